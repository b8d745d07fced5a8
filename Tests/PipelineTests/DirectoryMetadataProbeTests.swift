import Foundation
import Glibc
import SmartSyncCore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The probe directory ``DirectoryMetadata/reset(_:display:)`` makes beside a directory to read a new directory's
/// metadata from has a temporary-shaped name, which the scan and the carrier treat as the operator's when it is a
/// directory: one left behind would be carried for ever, so a failed removal is an error naming it.
@Suite struct DirectoryMetadataProbeTests {
    @Test func aProbeThatCannotBeRemovedIsAnErrorNamingIt() throws {
        let dir = try TemporaryDirectory(prefix: "probe")
        defer { dir.remove() }
        let name = Materializer.temporaryName()
        try TestFiles.write(dir[name] + "/in-the-way", "x")
        let parent = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(parent) }
        let error = try #require(throws: SmartSyncError.self) {
            try DirectoryMetadata.removeProbe(name, in: parent, display: dir[name])
        }
        #expect(error.message.contains(dir[name]) && error.message.contains("rmdir"), "\(error.message)")
        unlink(dir[name] + "/in-the-way")
        try DirectoryMetadata.removeProbe(name, in: parent, display: dir[name])
        #expect(TestFiles.lstat(dir[name]) == nil)
    }

    /// The reset itself leaves no probe behind.
    @Test func aResetLeavesNoProbe() throws {
        let dir = try TemporaryDirectory(prefix: "probe")
        defer { dir.remove() }
        mkdir(dir["d"], 0o700)
        let fd = open(dir["d"], O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(fd) }
        try DirectoryMetadata.reset(fd, display: dir["d"])
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names == ["d"])
    }
}
