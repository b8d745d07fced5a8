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

    /// Distinct names making `steps` steps in all (one for each name, one more for each directory), each a new one or
    /// an earlier one with bytes added or cut (so many share a prefix of 8 bytes or more), and whether each is a
    /// directory; none in `taken`.
    static func names(
        steps: Int, _ random: inout SplitMix64, taken: Set<[UInt8]> = []
    ) -> [(name: [UInt8], directory: Bool)] {
        var seen = taken
        var out: [(name: [UInt8], directory: Bool)] = []
        var made = 0
        while made < steps {
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
            let directory = made + 2 <= steps && random.below(2) == 0
            out.append((name, directory))
            made += directory ? 2 : 1
        }
        return out
    }

    /// Makes each of `names` in the directory open on `fd`: an empty directory or an empty file.
    static func make(_ names: [(name: [UInt8], directory: Bool)], in fd: Int32) throws {
        for (name, directory) in names {
            let made = (name + [0]).withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { c in
                    directory ? mkdirat(fd, c.baseAddress!, 0o755) : mknodat(fd, c.baseAddress!, S_IFREG | 0o644, 0)
                }
            }
            try #require(made == 0, "\(name)")
        }
    }

    /// That `steps` lies on the side of ``SortedDirectory/insertionSortLimit`` the test means it to (the insertion
    /// sort's side when `insertion`): the size only; which sort ran is not seen from here.
    static func expectSizeOnSideOfLimit(_ steps: Int, insertion: Bool) {
        if insertion {
            #expect(steps <= SortedDirectory.insertionSortLimit)
        } else {
            #expect(steps > SortedDirectory.insertionSortLimit)
        }
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

    /// Sizes in steps: 24 is the last sorted by insertion, 25 the first by the standard library's sort.
    @Test(arguments: [0, 1, 2, 7, 23, 24, 25, 60, 400, 3_000])
    func stepsAreInTheKeysByteOrder(stepCount: Int) {
        var random = SplitMix64(seed: 0x50A7_ED00 &+ UInt64(stepCount))
        for _ in 0..<(stepCount < 100 ? 40 : 3) {
            let names = Self.names(steps: stepCount, &random)
            let steps = SortedDirectory.steps(
                count: names.count, name: { TreePath(bytes: names[$0].name) }, descends: { names[$0].directory })
            #expect(steps.count == stepCount)
            if stepCount == 24 || stepCount == 25 {
                Self.expectSizeOnSideOfLimit(steps.count, insertion: stepCount == 24)
            }
            #expect(Self.keys(steps, name: { names[$0].name }) == Self.referenceOrder(names))
        }
    }

    /// Names that differ only past their 8th byte, and directories whose `/` falls at the 8th byte (`abcdefg/`) or
    /// right after it (`abcdefgh/`, against `abcdefgh` followed by bytes below and above `/`), where the heads tie
    /// or the `/` decides; alone (20 steps: the insertion sort) and among random names (the standard library's).
    @Test(arguments: [false, true])
    func tiesOnTheFirstEightBytesAreOrderedByTheRest(amongOthers: Bool) {
        let directories: Set<String> = ["nix-1601", "nix-16010", "abcdefg", "abcdefgh"]
        let ties: [(name: [UInt8], directory: Bool)] = [
            "nix-16010.nix", "nix-16019.nix", "nix-1601", "nix-1601+", "nix-1601-", "nix-1601.", "nix-16010",
            "abcdefg", "abcdefg+", "abcdefg0", "abcdefgh", "abcdefgh+", "abcdefgh.", "abcdefgh0", "abcdefg\u{7F}",
            "abcdefgh\u{1}",
        ].map { (Array($0.utf8), directories.contains($0)) }
        var random = SplitMix64(seed: 0x71E5)
        let others = amongOthers ? Self.names(steps: 40, &random, taken: Set(ties.map(\.name))) : []
        let names = ties + others
        let steps = SortedDirectory.steps(
            count: names.count, name: { TreePath(bytes: names[$0].name) }, descends: { names[$0].directory })
        #expect(ties.filter(\.directory).count == directories.count)
        Self.expectSizeOnSideOfLimit(steps.count, insertion: !amongOthers)
        #expect(Self.keys(steps, name: { names[$0].name }) == Self.referenceOrder(names))
    }

    /// A key sorting before another never has a greater head (what lets heads that differ decide).
    @Test func headsFollowTheKeysOrder() {
        var random = SplitMix64(seed: 0x4EAD)
        let names = Self.names(steps: 3_000, &random)
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

    /// A listed directory (files and directories of the generated names, both sorts) gives the same order.
    @Test(arguments: [20, 450])
    func aListedDirectoryIsInTheKeysByteOrder(stepCount: Int) throws {
        var random = SplitMix64(seed: 0xD1_0000 &+ UInt64(stepCount))
        let names = Self.names(steps: stepCount, &random)
        let dir = try TemporaryDirectory(prefix: "sorted-steps")
        defer { dir.remove() }
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        try Self.make(names, in: fd)
        let listing = try SortedDirectory(listing: fd, display: dir.path)
        Self.expectSizeOnSideOfLimit(listing.steps.count, insertion: stepCount == 20)
        let listed = Self.keys(listing.steps, name: { listing.name($0).bytes })
        #expect(listed == Self.referenceOrder(names))
    }
}
