import Foundation
import Glibc
import SmartSyncCore
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A pack's objects are named in `objects/` without a sync of their own (``ObjectBatch/publish()``: their bytes are
/// synced first, the names made durable by the next sync of the file system). A crash can then lose names, never
/// bytes: the objects are absent. Nothing may rely on them being there: the next runs fetch them again.
///
/// This suite runs on ``LocalGitSource`` (which writes one object at a time, not through a batch) and removes every
/// name: the worst a crash can do to the store, whatever wrote it. The pack path itself, with the crash as it comes
/// (the commit's name kept, its trees' and blobs' lost), is `UnsyncedObjectNamesEndToEndTests`.
@Suite("object names lost in a crash", .serialized)
struct UnsyncedObjectNamesTests {
    /// Every name the store had (the worst a crash can do to names not yet synced) gone after an update: the rerun,
    /// the next update and a move back all land their trees, recycling as usual.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func runsAfterTheNamesAreLostFetchWhatTheyNeed(_ mode: LinkMode) async throws {
        let t = try await StageRecyclerTests.Setup(mode: mode)
        t.runner.keepGenerations = 3
        try await t.sync(0)
        try await t.sync(1)
        let objects = t.runner.store.objectsDirectory
        var removed = 0
        for dir in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + dir) {
                #expect(unlink(objects + "/" + dir + "/" + name) == 0)
                removed += 1
            }
        }
        #expect(removed > 0)

        try await t.sync(1)
        try t.expectTarget(1)
        let update = try await t.sync(2)
        #expect(update.applied?.recycled == true)
        try t.expectTarget(2)
        try await t.sync(0)
        try t.expectTarget(0)
    }
}
