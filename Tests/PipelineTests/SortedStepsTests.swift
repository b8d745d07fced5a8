import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// ``SortedDirectory``'s sort of a directory's steps (by each key's first 8 bytes, by its bytes on a tie) against a
/// reference sort of the keys as byte arrays: random names sharing long prefixes, holding the bytes next to `/`
/// (`+`, `-`, `.`, `0`), high bytes and control bytes, directories and files of the same prefix, and directories
/// both above and below ``SortedDirectory/insertionSortLimit``.
@Suite struct SortedStepsTests {
    /// Bytes that decide order around a `/` (0x2F) and at the ends of the byte range.
    static let alphabet: [UInt8] = [0x01, 0x2B, 0x2D, 0x2E, 0x30, 0x31, 0x61, 0x62, 0x7F, 0x80, 0xC3, 0xFE, 0xFF]

    /// `count` distinct names, each a new one or an earlier one with bytes added or cut (so many share a prefix of
    /// 8 bytes or more), and whether each is a directory.
    static func names(_ count: Int, _ random: inout SplitMix64) -> [(name: [UInt8], directory: Bool)] {
        var seen: Set<[UInt8]> = []
        var out: [(name: [UInt8], directory: Bool)] = []
        while out.count < count {
            var name: [UInt8]
            if out.isEmpty || random.below(3) == 0 {
                name = (0..<(1 + random.below(12))).map { _ in alphabet[random.below(alphabet.count)] }
            } else {
                name = out[random.below(out.count)].name
                if random.below(4) == 0 && name.count > 1 { name.removeLast(1 + random.below(name.count - 1)) }
                for _ in 0..<(1 + random.below(3)) { name.append(alphabet[random.below(alphabet.count)]) }
            }
            // `.` and `..` are no directory's entries (a listing leaves them out).
            guard name != [0x2E] && name != [0x2E, 0x2E], seen.insert(name).inserted else { continue }
            out.append((name, random.below(2) == 0))
        }
        return out
    }

    /// The steps' keys (`name`, `name/` for a descent) in the order the reference sort gives them.
    static func referenceOrder(_ names: [(name: [UInt8], directory: Bool)]) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        for (name, directory) in names {
            keys.append(name)
            if directory { keys.append(name + [0x2F]) }
        }
        return keys.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The key of each step, in the order given.
    static func keys(_ steps: [SortedDirectory.Step], name: (Int) -> [UInt8]) -> [[UInt8]] {
        steps.map { name($0.index) + ($0.descends ? [0x2F] : []) }
    }

    @Test(arguments: [0, 1, 2, 7, 23, 24, 25, 60, 400, 3_000])
    func stepsAreInTheKeysByteOrder(count: Int) {
        var random = SplitMix64(seed: 0x50A7_ED00 &+ UInt64(count))
        for _ in 0..<(count < 100 ? 40 : 3) {
            let names = Self.names(count, &random)
            let steps = SortedDirectory.steps(
                count: names.count, name: { TreePath(bytes: names[$0].name) }, descends: { names[$0].directory })
            #expect(Self.keys(steps, name: { names[$0].name }) == Self.referenceOrder(names))
        }
    }

    /// Names that differ only past their 8th byte, and directories whose `/` falls at the 8th byte, where the heads
    /// tie or the `/` decides.
    @Test func tiesOnTheFirstEightBytesAreOrderedByTheRest() {
        let names: [(name: [UInt8], directory: Bool)] = [
            "nix-16010.nix", "nix-16019.nix", "nix-1601", "nix-1601+", "nix-1601-", "nix-1601.", "nix-16010",
            "abcdefg", "abcdefg+", "abcdefg0", "abcdefgh", "abcdefgh+", "abcdefgh.", "abcdefgh0", "abcdefg\u{7F}",
        ].enumerated().map { (Array($1.utf8), $0 % 3 != 1) }
        let steps = SortedDirectory.steps(
            count: names.count, name: { TreePath(bytes: names[$0].name) }, descends: { names[$0].directory })
        #expect(Self.keys(steps, name: { names[$0].name }) == Self.referenceOrder(names))
    }

    /// A key sorting before another never has a greater head (what lets heads that differ decide).
    @Test func headsFollowTheKeysOrder() {
        var random = SplitMix64(seed: 0x4EAD)
        let names = Self.names(2_000, &random)
        let steps = names.enumerated().flatMap { i, n in
            n.name.withUnsafeBufferPointer { name in
                [false, true].map { SortedDirectory.Step(index: i, descends: $0, name: name) }
            }
        }
        for _ in 0..<20_000 {
            let (a, b) = (steps[random.below(steps.count)], steps[random.below(steps.count)])
            let x = names[a.index].name + (a.descends ? [0x2F] : [])
            let y = names[b.index].name + (b.descends ? [0x2F] : [])
            if x.lexicographicallyPrecedes(y) { #expect(a.head <= b.head, "\(x) \(y)") }
        }
    }

    /// A listed directory (files and directories of the generated names, both sizes of sort) gives the same order.
    @Test(arguments: [20, 300])
    func aListedDirectoryIsInTheKeysByteOrder(count: Int) throws {
        var random = SplitMix64(seed: 0xD1_0000 &+ UInt64(count))
        let names = Self.names(count, &random)
        let dir = try TemporaryDirectory(prefix: "sorted-steps")
        defer { dir.remove() }
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        for (name, directory) in names {
            let made = (name + [0]).withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { c in
                    directory ? mkdirat(fd, c.baseAddress!, 0o755) : mknodat(fd, c.baseAddress!, S_IFREG | 0o644, 0)
                }
            }
            try #require(made == 0, "\(name)")
        }
        let listing = try SortedDirectory(listing: fd, display: dir.path)
        let listed = Self.keys(listing.steps, name: { listing.name($0).bytes })
        #expect(listed == Self.referenceOrder(names))
    }
}
