import Glibc
import SmartSyncCore

/// A relative, `/`-separated path in a tree or a target, handled as the bytes it is.
///
/// git and Linux name files with bytes, not text: a name need not be UTF-8 (`caf\xE9.txt`, Latin-1), and two
/// names that differ only in Unicode normalisation (`é` as one code point or as `e` plus a combining accent) are
/// two files. Swift's `String` compares by canonical equivalence and repairs invalid UTF-8, so a path never lives in
/// a `String` here: equality, hashing and ordering are byte-wise, and the bytes go to the system calls unchanged.
///
/// Valid UTF-8 (almost every name) is kept in a `String` for cheap storage and display; anything else as bytes.
/// ``description`` shows a path for humans and logs, with invalid bytes, control characters (C0, DEL and C1),
/// bidirectional controls and line separators (which could make a name from the network display as another, or
/// break a log line) and backslashes escaped byte by byte (`\xE9`, `\xe2\x80\xae`, `\\`); ``init(escaped:)``
/// reads that form back.
public struct TreePath: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    @usableFromInline
    enum Storage: Sendable {
        /// Valid UTF-8 (never anything else).
        case text(String)
        /// Bytes that are not valid UTF-8.
        case bytes([UInt8])
    }

    @usableFromInline let storage: Storage

    /// The path of a string (its UTF-8 bytes).
    public init(_ string: String) { storage = .text(string) }

    public init(stringLiteral value: String) { self.init(value) }

    /// The path of `bytes`, exactly. Inlinable, so a caller in another module gets it specialized for its collection.
    @inlinable
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        if let path = bytes.withContiguousStorageIfAvailable({ TreePath(bytes: $0) }) {
            self = path
        } else {
            self = Array(bytes).withUnsafeBufferPointer { TreePath(bytes: $0) }
        }
    }

    /// The path of the bytes `bytes` points to, exactly (copied).
    ///
    /// Not `String(validating:as:)`: it runs the standard library's unspecialized `_validate`, which instantiates
    /// generic metadata on every call (~1,000 instructions a path, 60 % of the decode of a state of 20,000 paths:
    /// BENCHMARKS "noop9load"). `String(decoding:as:)` of a buffer of UTF-8 is specialized; it repairs invalid
    /// bytes, so a result whose bytes differ from the input's (a repair always changes them: the result is valid,
    /// the input was not) means the input was not UTF-8.
    public init(bytes: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: bytes, as: UTF8.self)
        let same = text.utf8.withContiguousStorageIfAvailable { decoded in
            decoded.count == bytes.count
                && (bytes.isEmpty || memcmp(decoded.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
        if same ?? text.utf8.elementsEqual(bytes) {
            storage = .text(text)
        } else {
            storage = .bytes(Array(bytes))
        }
    }

    /// The empty path (a tree's root).
    public static let root = TreePath("")

    /// The path's bytes.
    public var bytes: [UInt8] {
        switch storage {
        case .text(let s): return Array(s.utf8)
        case .bytes(let b): return b
        }
    }

    /// Calls `body` with the path's bytes (no copy for most paths).
    @inlinable
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch storage {
        case .text(let s):
            // Read in place (no copy of the string to make it contiguous, which a native string already is).
            if let r = try s.utf8.withContiguousStorageIfAvailable(body) { return r }
            var contiguous = s
            contiguous.makeContiguousUTF8()
            return try contiguous.utf8.withContiguousStorageIfAvailable(body)!
        case .bytes(let b):
            return try b.withUnsafeBufferPointer(body)
        }
    }

    /// Calls `body` with the path as a NUL-terminated C string (for system calls).
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        switch storage {
        case .text(let s):
            return try s.withCString(body)
        case .bytes(let b):
            return try (b + [0]).withUnsafeBufferPointer { buffer in
                try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
            }
        }
    }

    /// The path as text when it is valid UTF-8 (nil otherwise).
    public var string: String? {
        if case .text(let s) = storage { return s }
        return nil
    }

    /// The number of bytes.
    public var count: Int { withBytes(\.count) }

    public var isEmpty: Bool { count == 0 }

    public static func == (a: TreePath, b: TreePath) -> Bool {
        switch (a.storage, b.storage) {
        case (.text(let x), .text(let y)):
            // Byte equality (memcmp), never String's canonical equivalence.
            guard x.utf8.count == y.utf8.count else { return false }
            return a.withBytes { p in
                b.withBytes { q in p.count == 0 || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 }
            }
        case (.bytes(let x), .bytes(let y)): return x == y
        default: return false  // valid and invalid UTF-8 are never the same bytes
        }
    }

    public func hash(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Byte order (`memcmp`), as git and `LC_ALL=C sort` order names.
    public static func < (a: TreePath, b: TreePath) -> Bool {
        a.withBytes { x in
            b.withBytes { y in
                let common = min(x.count, y.count)
                let order = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
                return order != 0 ? order < 0 : x.count < y.count
            }
        }
    }

    /// The path for humans: valid UTF-8 as is; invalid bytes and control characters as `\xNN`; `\` as `\\`.
    public var description: String {
        switch storage {
        case .text(let s) where s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }):
            return s
        default:
            return EscapedText.escape(bytes: bytes)
        }
    }

    /// Reads the form ``description`` writes: `\xNN` is a byte, `\\` a backslash, everything else its UTF-8.
    /// Nil when an escape is malformed.
    public init?(escaped text: String) {
        var bytes: [UInt8] = []
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            guard b == 0x5C else {
                bytes.append(b)
                continue
            }
            guard let next = it.popFirst() else { return nil }
            if next == 0x5C {
                bytes.append(0x5C)
            } else if next == UInt8(ascii: "x"), it.count >= 2,
                let value = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                it = it.dropFirst(2)
            } else {
                return nil
            }
        }
        self.init(bytes: bytes)
    }
}

extension TreePath {
    /// The components between the slashes (an empty path has none).
    public var components: [TreePath] {
        withBytes { b in
            b.isEmpty ? [] : b.split(separator: 0x2F, omittingEmptySubsequences: false).map { TreePath(bytes: $0) }
        }
    }

    /// The last component (the whole path when it has no slash).
    public var lastComponent: TreePath {
        withBytes { b in
            guard let slash = b.lastIndex(of: 0x2F) else { return self }
            return TreePath(bytes: b[(slash + 1)...])
        }
    }

    /// The parent directory's path, ``root`` for a top-level name.
    public var parent: TreePath {
        withBytes { b in
            guard let slash = b.lastIndex(of: 0x2F) else { return .root }
            return TreePath(bytes: b[..<slash])
        }
    }

    /// `self + "/" + name` (just `name` at the root).
    public func appending(_ name: TreePath) -> TreePath {
        if isEmpty { return name }
        if case .text(let parent) = storage, case .text(let child) = name.storage {
            return TreePath(parent + "/" + child)  // valid UTF-8 joined by "/" stays valid: no check needed
        }
        return TreePath(bytes: bytes + [0x2F] + name.bytes)
    }

    /// The number of components.
    public var depth: Int { withBytes { b in b.isEmpty ? 0 : b.reduce(1) { $1 == 0x2F ? $0 + 1 : $0 } } }

    /// True when `self` is a strict ancestor directory of `other` (`a` of `a/b`, not of `ab`).
    public func isAncestor(of other: TreePath) -> Bool {
        withBytes { a in
            other.withBytes { b in
                a.isEmpty ? !b.isEmpty : b.count > a.count && b[a.count] == 0x2F && b.starts(with: a)
            }
        }
    }

    /// The strict ancestors of this path, nearest first (`a/b/c` → `a/b`, `a`).
    public var ancestors: [TreePath] {
        var out: [TreePath] = []
        var p = parent
        while !p.isEmpty {
            out.append(p)
            p = p.parent
        }
        return out
    }
}

extension TreePath: Codable {
    /// Encoded as a string when it is valid UTF-8, else as an array of bytes.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            self.init(s)
        } else {
            self.init(bytes: try c.decode([UInt8].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch storage {
        case .text(let s): try c.encode(s)
        case .bytes(let b): try c.encode(b)
        }
    }
}
