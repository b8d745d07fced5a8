/// A structural check of a Nix expression for when `nix-instantiate` is not installed: brackets, braces,
/// parentheses and strings balance (outside strings and comments, following `${ }` interpolation), comments
/// close, and the top-level attribute set defines `outputs`.
///
/// It is no parser: it catches truncated files, unbalanced edits and merge damage, not every syntax error.
enum NixStructure {
    struct Finding: Equatable {
        var line: Int
        var column: Int
        var message: String
    }

    private enum Frame {
        case brace, bracket, paren, interpolation, string, indentedString

        var closer: UInt8? {
            switch self {
            case .brace, .interpolation: return UInt8(ascii: "}")
            case .bracket: return UInt8(ascii: "]")
            case .paren: return UInt8(ascii: ")")
            case .string, .indentedString: return nil
            }
        }

        var name: String {
            switch self {
            case .brace: return "'{'"
            case .bracket: return "'['"
            case .paren: return "'('"
            case .interpolation: return "'${'"
            case .string: return "string"
            case .indentedString: return "'' string"
            }
        }
    }

    /// The first structural problem, or nil; and whether a top-level `outputs = ...` was seen.
    static func check(_ text: String) -> (problem: Finding?, hasOutputs: Bool) {
        let b = Array(text.utf8)
        var i = 0
        var line = 1
        var lineStart = 0
        var stack: [(frame: Frame, line: Int, column: Int)] = []
        var hasOutputs = false

        func at(_ k: Int) -> UInt8? { k < b.count ? b[k] : nil }
        func finding(_ message: String) -> Finding { Finding(line: line, column: i - lineStart + 1, message: message) }

        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\n") {
                line += 1
                lineStart = i + 1
            }
            switch stack.last?.frame {
            case .string?:
                if c == UInt8(ascii: "\\") {
                    if at(i + 1) == UInt8(ascii: "\n") {
                        line += 1
                        lineStart = i + 2
                    }
                    i += 2
                    continue
                }
                if c == UInt8(ascii: "\"") {
                    stack.removeLast()
                } else if c == UInt8(ascii: "$") && at(i + 1) == UInt8(ascii: "{") {
                    stack.append((.interpolation, line, i - lineStart + 1))
                    i += 1
                }
                i += 1
                continue
            case .indentedString?:
                if c == UInt8(ascii: "'") && at(i + 1) == UInt8(ascii: "'") {
                    let next = at(i + 2)
                    if next == UInt8(ascii: "$") || next == UInt8(ascii: "'") {
                        i += 3
                    } else if next == UInt8(ascii: "\\") {
                        i += 4
                    } else {
                        stack.removeLast()
                        i += 2
                    }
                    continue
                }
                if c == UInt8(ascii: "$") && at(i + 1) == UInt8(ascii: "{") {
                    stack.append((.interpolation, line, i - lineStart + 1))
                    i += 1
                }
                i += 1
                continue
            default:
                break
            }
            // Code.
            let column = i - lineStart + 1
            switch c {
            case UInt8(ascii: "#"):
                while i < b.count && b[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where at(i + 1) == UInt8(ascii: "*"):
                var j = i + 2
                while j + 1 < b.count && !(b[j] == UInt8(ascii: "*") && b[j + 1] == UInt8(ascii: "/")) {
                    if b[j] == UInt8(ascii: "\n") {
                        line += 1
                        lineStart = j + 1
                    }
                    j += 1
                }
                guard j + 1 < b.count else { return (finding("a /* comment is never closed"), hasOutputs) }
                i = j + 2
                continue
            case UInt8(ascii: "\""):
                stack.append((.string, line, column))
            case UInt8(ascii: "'") where at(i + 1) == UInt8(ascii: "'"):
                stack.append((.indentedString, line, column))
                i += 1
            case UInt8(ascii: "$") where at(i + 1) == UInt8(ascii: "{"):
                stack.append((.interpolation, line, column))
                i += 1
            case UInt8(ascii: "{"): stack.append((.brace, line, column))
            case UInt8(ascii: "["): stack.append((.bracket, line, column))
            case UInt8(ascii: "("): stack.append((.paren, line, column))
            case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ")"):
                guard let open = stack.last, open.frame.closer == c else {
                    let expected = stack.last.map { "; \($0.frame.name) from line \($0.line) is still open" } ?? ""
                    return (finding("unexpected '\(Character(UnicodeScalar(c)))'\(expected)"), hasOutputs)
                }
                stack.removeLast()
            default:
                if isIdentifierStart(c) && (i == 0 || !isIdentifierByte(b[i - 1]) && b[i - 1] != UInt8(ascii: ".")) {
                    var j = i
                    while j < b.count && isIdentifierByte(b[j]) { j += 1 }
                    if stack.count == 1, stack[0].frame == .brace, b[i..<j].elementsEqual("outputs".utf8),
                        isAssignment(b, from: j)
                    {
                        hasOutputs = true
                    }
                    i = j
                    continue
                }
            }
            i += 1
        }
        if let open = stack.last {
            return (
                Finding(
                    line: open.line, column: open.column,
                    message: "\(open.frame.name) opened here is never closed (the file may be truncated)"),
                hasOutputs
            )
        }
        return (nil, hasOutputs)
    }

    private static func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }

    private static func isIdentifierByte(_ c: UInt8) -> Bool {
        isIdentifierStart(c) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "'") || c == UInt8(ascii: "-")
    }

    /// After an attribute name: blanks, then `=` that is not `==`.
    private static func isAssignment(_ b: [UInt8], from start: Int) -> Bool {
        var j = start
        while j < b.count, b[j] == 0x20 || b[j] == 0x09 || b[j] == 0x0A || b[j] == 0x0D { j += 1 }
        return j < b.count && b[j] == UInt8(ascii: "=") && (j + 1 >= b.count || b[j + 1] != UInt8(ascii: "="))
    }
}
