import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

/// A path made of bytes keeps them exactly, and is held as text exactly when they are valid UTF-8: the same answer
/// as `String(validating:as:)`, which ``TreePath/init(bytes:)`` no longer calls (its unspecialized generic path cost
/// ~1,000 instructions a path: BENCHMARKS "noop9load").
struct TreePathBytesTests {
    /// Valid and invalid UTF-8, including inputs a repair maps to the same number of bytes (a 3-byte surrogate
    /// becomes the 3-byte U+FFFD), which only a comparison of the bytes tells from valid ones.
    static let cases: [[UInt8]] = [
        [], Array("a".utf8), Array("modules/desktop/sub12/nix-03771.nix".utf8), Array("caf\u{E9}/e\u{301}".utf8),
        Array("\u{1F600}/\u{10FFFF}".utf8), [0x63, 0x61, 0x66, 0xE9],  // Latin-1
        [0xFF], [0x80], [0xC3], [0xC0, 0x80],  // lone bytes, a cut sequence, an overlong NUL
        [0xED, 0xA0, 0x80], [0xEF, 0xBF, 0xBD], [0xF4, 0x90, 0x80, 0x80],  // a surrogate, U+FFFD itself, > U+10FFFF
        Array("long-enough-to-be-on-the-heap/".utf8) + [0xED, 0xA0, 0x80] + Array(".txt".utf8),
        Array("x/".utf8) + [0xE2, 0x82] + Array("y".utf8), [0x00, 0x61],
    ]

    @Test func textExactlyWhenValidUTF8() {
        for bytes in Self.cases { check(bytes) }
    }

    /// Random byte strings, biased to ASCII, UTF-8 lead and continuation bytes so that valid multi-byte sequences
    /// occur (a fixed seed: the same inputs every run).
    @Test func randomBytesAgreeWithTheStandardLibrary() {
        var random = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)
        let alphabet: [UInt8] = [
            0x2F, 0x61, 0x7A, 0x80, 0x9F, 0xA0, 0xBF, 0xC2, 0xC3, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xFF,
        ]
        for _ in 0..<3_000 {
            let count = random.below(40)
            check((0..<count).map { _ in alphabet[random.below(alphabet.count)] })
        }
    }

    private func check(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let valid = String(validating: bytes, as: UTF8.self) != nil
        let made = [
            TreePath(bytes: bytes),  // an array: the generic initializer
            TreePath(bytes: bytes[...]),  // a slice
            bytes.withUnsafeBufferPointer { TreePath(bytes: $0) },  // a buffer
            TreePath(bytes: bytes.lazy.map { $0 }),  // no contiguous storage
        ]
        for path in made {
            #expect(path.bytes == bytes, "\(bytes)", sourceLocation: sourceLocation)
            #expect((path.string != nil) == valid, "\(bytes)", sourceLocation: sourceLocation)
            #expect(path == made[0], "\(bytes)", sourceLocation: sourceLocation)
        }
        // Against the path of the string the bytes decode to (repaired when invalid): the same path, hashed alike,
        // exactly when the bytes are valid; otherwise another path, ordered as memcmp orders the two byte strings.
        let repaired = Array(String(decoding: bytes, as: UTF8.self).utf8)
        let ofString = TreePath(String(decoding: bytes, as: UTF8.self))
        if valid {
            #expect(made[0] == ofString, "\(bytes)", sourceLocation: sourceLocation)
            #expect(made[0].hashValue == ofString.hashValue, "\(bytes)", sourceLocation: sourceLocation)
        } else {
            #expect(made[0] != ofString, "\(bytes)", sourceLocation: sourceLocation)
            let before = Self.memcmpPrecedes(bytes, repaired)
            let after = Self.memcmpPrecedes(repaired, bytes)
            #expect((made[0] < ofString) == before, "\(bytes)", sourceLocation: sourceLocation)
            #expect((ofString < made[0]) == after, "\(bytes)", sourceLocation: sourceLocation)
        }
    }

    /// `a` before `b` by `memcmp` of their common length, then the shorter first.
    private static func memcmpPrecedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let common = min(a.count, b.count)
        let order = common == 0 ? 0 : memcmp(a, b, common)
        return order != 0 ? order < 0 : a.count < b.count
    }
}
