import Foundation
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

/// Partial-download metadata written by smart-sync 0.1.0 (text) is still read, resumes its download, and is
/// rewritten as JSON.
@Suite("Partial metadata: migration from 0.1.0")
struct PartialMetadataMigrationTests {
    static let withValidator = PartialMetadata(
        id: ObjectID(hex: "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")!, size: 67_108_864,
        url: "https://raw.githubusercontent.com/o/r/0123456789abcdef0123456789abcdef01234567/big.bin",
        validator: "\"3b18e512dba79e4c8300dd08aeb37f8e728b8dad\"", written: 33_554_432)
    static let withoutValidator = PartialMetadata(
        id: ObjectID(hex: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")!, size: 1_048_576,
        url: "http://127.0.0.1:8080/o/r/c/dir/file%20name.bin", validator: nil, written: 0)
    static let fixtures = [
        ("partial-with-validator.meta", withValidator), ("partial-without-validator.meta", withoutValidator),
    ]

    @Test func theOldTextDecodesToTheSameRecords() throws {
        for (name, expected) in Self.fixtures {
            #expect(PartialMetadata.load(from: RecordFixtures.directory + "/" + name) == expected, "\(name)")
        }
    }

    @Test func anOldPartialIsResumedAndItsMetadataRewrittenAsJSON() throws {
        let dir = try TemporaryDirectory(prefix: "partial-migration")
        let store = try ObjectStore(root: dir.appending("store"))
        try FileSystem.makeDirectories(store.partialsDirectory)
        for (name, expected) in Self.fixtures {
            let data = store.partialsDirectory + "/" + expected.id.hex
            try RecordFixtures.copy(name, to: data + ".meta")
            // The data the old run left: as many bytes as its metadata says were written, and some more.
            let onDisk = expected.written + 4096
            let fd = open(data, O_WRONLY | O_CREAT, 0o600)
            #expect(fd >= 0 && ftruncate(fd, off_t(onDisk)) == 0)
            close(fd)

            let partial = try #require(
                try store.openPartial(expecting: expected.id, size: expected.size, url: "http://elsewhere/", keep: true)
            )
            #expect(partial.resumedFrom == onDisk, "the old metadata was accepted: \(name)")
            #expect(partial.validator == expected.validator)
            #expect(partial.url == expected.url)
            partial.suspend()
            let bytes = try FileSystem.readFile(data + ".meta")
            #expect(RecordFixtures.isJSONRecord(bytes, format: "smart-sync-partial"), "\(name) rewritten as JSON")
            var resumed = expected
            resumed.written = onDisk
            #expect(store.partialMetadata(for: expected.id) == resumed)
        }
    }

    @Test func aNewerVersionOrAForeignRecordIsNotResumed() throws {
        let dir = try TemporaryDirectory(prefix: "partial-newer")
        let path = dir.appending("meta")
        var line = String(decoding: try Self.withoutValidator.encodedRecord(), as: UTF8.self)
        line = line.replacingOccurrences(of: "\"version\":2", with: "\"version\":3")
        try FileSystem.writeFileAtomically(path, Array(line.utf8))
        #expect(PartialMetadata.load(from: path) == nil)
        #expect(throws: SmartSyncError.self) { try PartialMetadata.read(at: path) }
        try FileSystem.writeFileAtomically(
            path, Array("{\"format\":\"smart-sync-switch-journal\",\"version\":1}\n".utf8))
        #expect(PartialMetadata.load(from: path) == nil)
    }
}
