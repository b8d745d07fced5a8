import SmartSyncCore
import SmartSyncGitObjects

/// A `--ref` as git reads it, and the one rule every transport resolves it by.
///
/// Each transport only gathers the refs that ``candidates`` could mean (the REST API's `matching-refs`, `ls-refs`,
/// `git ls-remote`, `git for-each-ref`); ``match(in:source:)`` decides, so the REST, pack, clone and local paths
/// accept, refuse and pick alike:
///
/// - nil or `HEAD`: the default branch (a local repository's `HEAD`).
/// - 40 hex digits (any case): that commit. git too takes a full id before any ref of that name.
/// - `refs/…`: exactly that ref.
/// - any other name, in `git rev-parse`'s order (gitrevisions(7)): `refs/NAME`, `refs/tags/NAME`, `refs/heads/NAME`,
///   `refs/remotes/NAME`, `refs/remotes/NAME/HEAD`; the first that exists wins, except that a name that is both a
///   tag and a branch is refused (git would warn and take the tag), naming both full refs.
/// - 4 to 39 hex digits that name no ref: an abbreviated commit id, expanded where the transport can (the REST API,
///   a local repository); never when a ref of that name exists.
///
/// Names are checked as `git check-ref-format` does, and a leading `-` or `+` (an option or a forced refspec to git)
/// is refused too; revision expressions (`main~1`, `v1^{commit}`, `@{1}`) are not refs and are refused alike.
public struct RefName: Sendable, Hashable {
    /// What the name is.
    public enum Kind: Sendable, Hashable {
        /// `HEAD`, or no ref at all.
        case head
        /// A full commit id.
        case commit(ObjectID)
        /// `refs/…`: exactly that ref.
        case fullName(String)
        /// Anything else: looked up in git's order.
        case shortName(String)
    }

    /// The ref as given (`HEAD` when none was).
    public let text: String
    public let kind: Kind

    /// Checks and classifies `ref`. Throws `.invalidArgument`, naming the input, when git would not take it as a ref
    /// name or a commit id.
    public init(_ ref: String?) throws {
        let text = ref ?? "HEAD"
        self.text = text
        if text == "HEAD" {
            kind = .head
        } else if text.utf8.count == 40, let id = ObjectID(hex: text.lowercased()) {
            kind = .commit(id)
        } else {
            if let problem = Self.problem(with: text) {
                throw SmartSyncError(
                    .invalidArgument, "'\(text)' is not a valid ref (\(problem))",
                    hint: "give a branch or tag name, a full ref name such as refs/tags/v1, or a commit SHA")
            }
            kind = text.hasPrefix("refs/") ? .fullName(text) : .shortName(text)
        }
    }

    /// The full ref names this may mean, in the order git tries them.
    public var candidates: [String] {
        switch kind {
        case .head: return ["HEAD"]
        case .commit: return []
        case .fullName(let name): return [name]
        case .shortName(let name):
            return [
                "refs/" + name, "refs/tags/" + name, "refs/heads/" + name, "refs/remotes/" + name,
                "refs/remotes/" + name + "/HEAD",
            ]
        }
    }

    /// True for 4 to 39 hex digits: an abbreviated commit id when no ref of that name exists.
    public var mayAbbreviateACommit: Bool {
        guard case .shortName(let name) = kind else { return false }
        return (4..<40).contains(name.utf8.count) && name.utf8.allSatisfy { $0.isASCIIHexDigit }
    }

    /// What a transport should do after gathering the refs.
    public enum Match: Sendable, Equatable {
        /// This full ref name (or `HEAD`).
        case ref(String)
        /// No ref has this name: expand it as an abbreviated commit id.
        case abbreviatedCommit(String)
    }

    /// Picks among the refs a transport found (full names; names that are no candidate are ignored).
    ///
    /// - Parameter source: the repository, for messages (`acme/hyper`, a URL or a path).
    /// - Throws: `.invalidArgument` for a name that is both a tag and a branch; `.notFound` when nothing matches.
    public func match(in refs: some Sequence<String>, source: String) throws -> Match {
        let present = Set(refs)
        if case .shortName(let name) = kind, present.contains("refs/tags/" + name),
            present.contains("refs/heads/" + name)
        {
            throw SmartSyncError(
                .invalidArgument,
                "'\(name)' is both a tag (refs/tags/\(name)) and a branch (refs/heads/\(name)) in \(source)",
                hint: "say which one with --ref refs/tags/\(name) or --ref refs/heads/\(name)")
        }
        if let found = candidates.first(where: present.contains) { return .ref(found) }
        if mayAbbreviateACommit { return .abbreviatedCommit(text) }
        throw notFound(in: source)
    }

    /// "ref 'x' was not found in SOURCE", with what to check.
    func notFound(in source: String) -> SmartSyncError {
        let what: String
        switch kind {
        case .head: what = "the default branch (HEAD)"
        case .commit(let id): what = "commit \(id)"
        case .fullName, .shortName: what = "ref '\(text)'"
        }
        return SmartSyncError(
            .notFound, "\(what) was not found in \(source) (no branch, tag or commit of that name)",
            hint: "check the name, or give the full 40-character commit SHA")
    }

    /// Why git would not take `name` as a ref name (`git check-ref-format`), or nil when it would.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name.utf8.count > 1024 { return "it is longer than 1024 bytes" }
        if name.hasPrefix("-") || name.hasPrefix("+") { return "it starts with '\(name.first!)'" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "it contains a control character"
        }
        if let c = name.first(where: { " ~^:?*[\\".contains($0) }) {
            return c == " " ? "it contains a space" : "it contains '\(c)'; revision expressions are not accepted"
        }
        if name.contains("..") { return "it contains '..'" }
        if name.contains("@{") || name == "@" { return "it contains '@{' or is '@'" }
        if name.hasPrefix("/") || name.hasSuffix("/") || name.contains("//") {
            return "it has an empty path component"
        }
        if name.hasSuffix(".") { return "it ends with '.'" }
        for component in name.split(separator: "/") {
            if component.hasPrefix(".") { return "a component starts with '.'" }
            if component.hasSuffix(".lock") { return "a component ends with '.lock'" }
        }
        return nil
    }
}

extension UInt8 {
    fileprivate var isASCIIHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
