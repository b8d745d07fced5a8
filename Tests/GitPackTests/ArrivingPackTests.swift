import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitPack
import SmartSyncObjectStore
import TestSupport
import Testing

/// An import that runs while its pack is still being written (a download): it waits at the end of the file
/// instead of taking it for the end of the pack.
@Suite struct ArrivingPackTests {
    /// Writes `bytes` to `path` in chunks from another thread, reporting each to `arrival`; `upTo` bytes only.
    private func trickle(_ bytes: [UInt8], to path: String, upTo limit: Int? = nil, arrival: PackArrival) -> Thread {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let thread = Thread {
            let fd = open(path, O_WRONLY)
            defer {
                close(fd)
                arrival.finish()
            }
            let total = min(limit ?? bytes.count, bytes.count)
            var written = 0
            while written < total {
                let n = min(1000, total - written)
                _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, n, off_t(written)) }
                written += n
                arrival.grew(to: written)
                usleep(200)
            }
        }
        thread.start()
        return thread
    }

    @Test func anImportKeepsPaceWithItsPack() throws {
        let fixture = try PackFixture()
        let source = try fixture.pack(["--all"], name: "whole")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
        let store = try fixture.makeStore("arriving")
        let arrival = PackArrival()
        _ = trickle(bytes, to: fixture.scratch.appending("arriving.pack"), arrival: arrival)
        let report = try PackImporter(store: store).importPack(
            atPath: fixture.scratch.appending("arriving.pack"), arrival: arrival)
        let expected = try fixture.objects(["--all"])
        #expect(report.trailerVerified)
        #expect(report.objects == expected.count)
        for (id, _, content) in expected { #expect(try store.read(id) == content) }
    }

    @Test func aTransferThatEndsEarlyIsATruncatedPackWithItsWholeObjectsKept() throws {
        let fixture = try PackFixture()
        let source = try fixture.pack(["--all"], name: "cut")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
        let store = try fixture.makeStore("cut")
        let arrival = PackArrival()
        let path = fixture.scratch.appending("cut.pack")
        _ = trickle(bytes, to: path, upTo: bytes.count / 2, arrival: arrival)
        #expect {
            try PackImporter(store: store).importPack(atPath: path, arrival: arrival)
        } throws: { error in
            (error as? SmartSyncError)?.message.contains("invalid") == true
        }
        #expect(try StoreAudit.count(in: store) > 0, "the objects before the cut were kept")
        #expect(try StoreAudit.problems(in: store) == [])
    }
}
