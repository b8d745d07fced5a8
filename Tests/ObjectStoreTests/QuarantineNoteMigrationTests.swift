import Foundation
import SmartSyncFileSystem
import SmartSyncGitObjects
@testable import SmartSyncObjectStore
import TestSupport
import Testing

/// Quarantine notes written before they were JSON records (one sentence each, `Tests/Fixtures/Records/quarantine`)
/// are still listed with their time and reason; new notes are JSON records that say the same.
@Suite("Quarantine notes: the sentence format and the JSON record")
struct QuarantineNoteMigrationTests {
    static let object = ObjectID(hex: "0eee79809c71533018a9d613d783f32577f9798a")!
    static let twin = ObjectID(hex: "6065dc2f006a93dee65cfaa6b4e472bee48dff55")!

    @Test func oldNotesAreListedWithTheirTimeAndReason() throws {
        let dir = try TemporaryDirectory(prefix: "quarantine-migration")
        let store = try ObjectStore(root: dir.appending("store"))
        try RecordFixtures.copy("quarantine", to: store.quarantineDirectory)
        let listed = store.quarantinedObjects()
        #expect(listed.map(\.id) == [Self.object, Self.twin] || listed.map(\.id) == [Self.twin, Self.object])
        let object = try #require(listed.first { $0.id == Self.object })
        #expect(object.time == 1_796_591_874)
        #expect(object.reason == "content hashes to 0123456789abcdef0123456789abcdef01234567 (fsck)")
        let twin = try #require(listed.first { $0.id == Self.twin })
        #expect(
            twin.reason == "its seal was broken: mode 0755 (apply)", "the old twin marker is not part of the reason")
        let note = try #require(
            QuarantineNote.load(store.quarantineDirectory + "/" + Self.twin.hex + ".568bb06ee4767fab.why"))
        #expect(note.twinOnly && note.id == Self.twin.hex)
    }

    @Test func newNotesAreJSONRecordsThatSayTheSame() throws {
        let dir = try TemporaryDirectory(prefix: "quarantine-json")
        let store = try ObjectStore(root: dir.appending("store"))
        let id = try store.insert(Array("a damaged object\n".utf8))
        let other = try store.insert(Array("a damaged twin\n".utf8))
        _ = try store.executablePath(for: other)
        let moved = try #require(try store.quarantine(id, reason: "fsck: content"))
        let twin = try #require(try store.quarantineTwin(of: other, reason: "apply: mode 0755"))
        let notes = [moved + ".why", String(twin.dropLast(2)) + ".why"]
        for path in notes {
            #expect(RecordFixtures.fileIsJSONRecord(path, format: "smart-sync-quarantine-note"), "\(path)")
        }
        #expect(QuarantineNote.load(notes[0])?.twinOnly == false)
        #expect(QuarantineNote.load(notes[1])?.twinOnly == true)
        let reasons = Dictionary(uniqueKeysWithValues: store.quarantinedObjects().map { ($0.id, $0.reason) })
        #expect(reasons == [id: "fsck: content", other: "apply: mode 0755"])
    }
}
