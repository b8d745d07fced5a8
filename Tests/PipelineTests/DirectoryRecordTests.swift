import Glibc
import SmartSyncCore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The `getdents64` record parser of the scan's listing (``SortedDirectory/forEachName(in:display:_:)``): the names
/// of well-formed records, `.` and `..` left out; any malformed record (what a damaged or hostile file system could
/// return) refused with EIO before a name of it reaches a system call. And the listing of a directory whose records
/// fill many `getdents64` buffers: whole, and holding little for the entries its exclusions refuse.
@Suite struct DirectoryRecordTests {
    /// A `struct linux_dirent64`: inode, offset, `reclen` (the record's length, padded to 8 as the kernel does unless
    /// given), type, the name's bytes, a NUL (unless `nul` is false) and padding.
    static func record(_ name: [UInt8], nul: Bool = true, length: Int? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 19) + name + (nul ? [0] : [])
        while bytes.count % 8 != 0 { bytes.append(nul ? 0 : 0x61) }
        let reclen = UInt16(length ?? bytes.count)
        bytes[0] = 42  // d_ino
        bytes[16] = UInt8(reclen & 0xFF)
        bytes[17] = UInt8(reclen >> 8)
        bytes[18] = UInt8(DT_REG)
        return bytes
    }

    static func record(_ name: String, nul: Bool = true, length: Int? = nil) -> [UInt8] {
        record(Array(name.utf8), nul: nul, length: length)
    }

    /// The names parsed from `records`, or the error.
    static func names(_ records: [UInt8]) -> Result<[[UInt8]], any Error> {
        Result {
            var names: [[UInt8]] = []
            try records.withUnsafeBufferPointer { buffer in
                try SortedDirectory.forEachName(in: buffer, display: "/dir") { name in
                    #expect(name.baseAddress?[name.count] == 0, "no NUL after the name")
                    names.append(Array(name))
                }
            }
            return names
        }
    }

    @Test func wellFormedRecordsGiveTheirNames() throws {
        let long = [UInt8](repeating: 0x6E, count: 255)
        let bytes =
            Self.record(".") + Self.record("..") + Self.record("a") + Self.record([0xFF, 0x2E]) + Self.record(long)
            + Self.record("...")
        let got = try Self.names(bytes).get()
        #expect(got == [Array("a".utf8), [0xFF, 0x2E], long, Array("...".utf8)])
        #expect(try Self.names([]).get().isEmpty)
    }

    /// Each malformed record, alone and after a good one (which is given first: the listing then fails whole).
    @Test(arguments: [
        ("an empty name", record("")),
        ("no NUL in the record", record("abc", nul: false)),
        ("a '/' in the name", record("a/b")),
        ("a length past the buffer", record("abc", length: 64)),
        ("a zero length", record("abc", length: 0)),
        ("a length shorter than the header", record("abc", length: 16)),
        ("a header cut short", Array(record("abc").prefix(12))),
    ])
    func aMalformedRecordIsRefusedWithEIO(_ what: String, _ bad: [UInt8]) {
        for records in [bad, Self.record("good") + bad] {
            switch Self.names(records) {
            case .success(let names): Issue.record("\(what): parsed as \(names)")
            case .failure(let error):
                let failure = error as? SmartSyncError
                #expect((failure?.cause as? SystemCallError)?.errno == EIO, "\(what): \(error)")
                #expect(failure?.message.contains("getdents64 failed for '/dir'") == true, "\(what): \(error)")
            }
        }
    }

    /// 5,000 entries of 200-byte names (224-byte records: ~34 `getdents64` calls), every 7th a directory.
    static func longNames() -> [(name: [UInt8], directory: Bool)] {
        (0..<5_000).map { i in
            let digits = Array(String(i).utf8)
            let fill = [UInt8](repeating: i % 2 == 0 ? 0x6E : 0xC3, count: 200 - digits.count - 1)
            return ([UInt8(0x61 + i % 26)] + fill + digits, i % 7 == 0)
        }
    }

    /// A directory listed as `names` says, each child's name followed by its NUL in ``SortedDirectory/names`` and of
    /// the type made, its steps in the keys' byte order.
    static func check(_ listing: SortedDirectory, against names: [(name: [UInt8], directory: Bool)]) {
        let made = Dictionary(uniqueKeysWithValues: names.map { ($0.name, $0.directory) })
        #expect(listing.children.count == names.count)
        for i in listing.children.indices {
            let name = listing.withName(i) { Array($0) }
            #expect(made[name] == listing.children[i].isDirectory, "\(name)")
            #expect(listing.names[listing.children[i].name.upperBound] == 0)
        }
        #expect(Set(listing.children.indices.map { listing.withName($0) { Array($0) } }) == Set(made.keys))
        let keys = SortedStepsTests.keys(listing.steps, name: { listing.withName($0) { Array($0) } })
        #expect(keys == SortedStepsTests.referenceOrder(names))
    }

    @Test func aListingOfManyBuffersIsWhole() throws {
        let names = Self.longNames()
        let dir = try TemporaryDirectory(prefix: "listing-buffers")
        defer { dir.remove() }
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        try SortedStepsTests.make(names, in: fd)
        let listing = try SortedDirectory(listing: fd, display: dir.path)
        // The records are kept whole: this many bytes took many buffers.
        #expect(listing.names.count >= 5_000 * 224)
        #expect(listing.names.count > 20 * SortedDirectory.listingBuffer)
        Self.check(listing, against: names)
        // Room for the children is reserved geometrically: a few buffers for the ~34 `getdents64` calls, not one
        // a call as an exact reserve made (copying every child so far each time: quadratic in a large directory).
        #expect(listing.childrenAllocations >= 1)
        #expect(listing.childrenAllocations <= 12)
    }

    /// A listing whose exclusions refuse most entries keeps the kept names only, not the refused entries' records.
    @Test func aListingRefusingMostEntriesHoldsOnlyTheKeptNames() throws {
        let names = Self.longNames()
        let dir = try TemporaryDirectory(prefix: "listing-refused")
        defer { dir.remove() }
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        try SortedStepsTests.make(names, in: fd)
        let kept = names.filter { $0.name.last == 0x35 }  // the indices ending in 5: 500
        let listing = try SortedDirectory(listing: fd, display: dir.path) { $0.last == 0x35 }
        #expect(listing.names.count == kept.count * 201)
        Self.check(listing, against: kept)
    }

    /// Reserving as a loop goes grows the capacity geometrically: a few allocations, not one a round.
    @Test func reservingRoomAsItGoesGrowsGeometrically() {
        var array: [Int] = []
        var allocations = 0
        for _ in 0..<1_000 {
            let capacity = array.capacity
            array.reserve(room: 100)
            if array.capacity != capacity { allocations += 1 }
            #expect(array.capacity >= array.count + 100)
            array.append(contentsOf: repeatElement(0, count: 100))
        }
        #expect(allocations <= 12)
    }
}
