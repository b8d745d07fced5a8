import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The switch journal's payload of pending kept-version records (``SwitchJournal/pending``): what it carries, and what
/// an earlier release reads of a journal that has one.
@Suite("the switch journal's pending records") struct SwitchJournalTests {
    /// The journal as 114a82e (the release before the payload) declared it.
    private struct EarlierJournal: Decodable, Equatable {
        var format: String
        var version: Int
        var sequence: Int
        var incoming: String
        var incomingInode: UInt64
        var consumed: Int?
    }

    private static let awkward: [TreePath] = [
        "with space/a b.nix", "new\nline", "100%/%41%",
        TreePath(bytes: [0x6C, 0x61, 0x74, 0x69, 0x6E, 0x31, 0xE9, 0xFF]),
        TreePath(bytes: Array("tab\there/\u{7F}del".utf8)),
    ]

    private func journal(_ paths: [TreePath]) -> SwitchJournal {
        let pending = paths.enumerated().map { n, path in
            KeptVersion(
                timeNs: 1_700_000_000_000_000_000 + Int64(n), mode: n % 2 == 0 ? .regular : .executable,
                id: ObjectID.blob(Array("version \(n)\n".utf8)),
                replacedBy: n % 2 == 0 ? ObjectID.blob([UInt8(n)]) : nil,
                path: path, metadata: FileMetadata(permissions: 0o600, owner: 65534, group: 7), rollbackTo: n)
        }
        return SwitchJournal(
            sequence: 4, incoming: "/srv/t/.t.smart-sync/generations/3", incomingInode: 42, consumed: 3,
            pending: pending)
    }

    /// Paths with a space, a newline, `%` and bytes that are not UTF-8 come back from the payload as they went in.
    @Test func awkwardPathsRoundTrip() throws {
        let dir = try TemporaryDirectory(prefix: "journal-tests")
        let written = journal(Self.awkward)
        try written.write(to: dir["journal"])
        let loaded = try #require(try SwitchJournal.load(from: dir["journal"], layout: SwitchLayout(target: dir.path)))
        #expect(loaded == written)
        #expect(loaded.pending.map(\.path.bytes) == Self.awkward.map(\.bytes))
    }

    /// An earlier release decodes the bytes up to the first newline (114a82e's `JSONRecord.decodeRecord`): that line
    /// alone is the whole journal it knows, format and version 1 as before, its payload never seen.
    @Test func anEarlierReleaseReadsTheFirstLine() throws {
        let dir = try TemporaryDirectory(prefix: "journal-tests")
        try journal(Self.awkward).write(to: dir["journal"])
        let bytes = try #require(TestFiles.readBytes(dir["journal"]))
        let newline = try #require(bytes.firstIndex(of: UInt8(ascii: "\n")))
        #expect(newline < bytes.count - 1, "no payload below the JSON line")
        let earlier = try JSONDecoder().decode(EarlierJournal.self, from: Data(bytes[..<newline]))
        #expect(
            earlier
                == EarlierJournal(
                    format: "smart-sync-switch-journal", version: 1, sequence: 4,
                    incoming: "/srv/t/.t.smart-sync/generations/3", incomingInode: 42, consumed: 3))
    }

    /// A last payload line without its newline is not a record (it may be cut short), as ``LineLog`` reads logs.
    @Test func anUnterminatedLastLineIsDropped() throws {
        let dir = try TemporaryDirectory(prefix: "journal-tests")
        let written = journal(["d0/f0.nix", "d0/f1.nix"])
        try written.write(to: dir["journal"])
        var bytes = try #require(TestFiles.readBytes(dir["journal"]))
        #expect(bytes.last == UInt8(ascii: "\n"))
        bytes.removeLast()
        try TestFiles.write(dir["journal"], bytes: bytes)
        let loaded = try #require(try SwitchJournal.load(from: dir["journal"], layout: SwitchLayout(target: dir.path)))
        #expect(loaded.pending == Array(written.pending.prefix(1)))
    }
}
