/// An nginx configuration as a list of its directives, each with the blocks around it, comments and layout dropped:
/// `http > server > location /mirror/ > proxy_cache_lock on`, and a block's opening as `http > server {`. Two
/// configurations that list the same directives (in any order) configure the same thing.
struct NginxDirectives: Equatable, CustomStringConvertible {
    private(set) var lines: [String] = []

    /// The directives of `text`, inside the blocks `context` (e.g. `["http", "server"]` for what goes in a
    /// `server { }`). Words are split at blanks, `;`, `{` and `}` outside quotes; `#` starts a comment at a word's
    /// start.
    init(_ text: String, context: [String] = []) {
        var blocks = context
        var words: [String] = []
        var word = ""
        var quote: Character?
        var escaped = false
        var inComment = false
        func endWord() {
            if !word.isEmpty { words.append(word) }
            word = ""
        }
        for c in text {
            if inComment {
                inComment = c != "\n"
                continue
            }
            if let q = quote {
                word.append(c)
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == q {
                    quote = nil
                }
                continue
            }
            switch c {
            case "#" where word.isEmpty: inComment = true
            case "\"", "'":
                quote = c
                word.append(c)
            case ";":
                endWord()
                lines.append((blocks + [words.joined(separator: " ")]).joined(separator: " > "))
                words = []
            case "{":
                endWord()
                let head = words.joined(separator: " ")
                lines.append((blocks + [head + " {"]).joined(separator: " > "))
                blocks.append(head)
                words = []
            case "}":
                endWord()
                if blocks.count > context.count { blocks.removeLast() }
                words = []
            case _ where c.isWhitespace: endWord()
            default: word.append(c)
            }
        }
    }

    /// The directives of `self` that `other` lacks (a directive twice here and once there is listed once).
    func subtracting(_ other: NginxDirectives) -> [String] {
        var left = other.lines.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        return lines.filter { line in
            guard let n = left[line], n > 0 else { return true }
            left[line] = n - 1
            return false
        }
    }

    var description: String { lines.joined(separator: "\n") }
}
