import Foundation
import TestSupport
import Testing

/// A git host that sends more than it was asked for, or sends it too slowly: each case from the test server's fault
/// injection (`pack_*`, `append`, `drip_*` on the fetch), against the real binary. Every refusal names the host and
/// the limit, leaves the target as it was, and the store holds no more than the limit allows and nothing the commit
/// does not reach.
@Suite("hostile volume from the git host", .serialized)
struct HostileVolumeEndToEndTests {
    /// The fetch POST only (`ls-refs` goes to the same URL).
    static let fetch = #"{"listener": "git", "method": "POST", "body_contains": "command=fetch"}"#

    /// A scenario with commit A, a target holding one operator file, and the fetch answered with `action`.
    func scenario(_ action: String) throws -> (Scenario, String, DirectorySnapshot) {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try FileManager.default.createDirectory(atPath: s.target, withIntermediateDirectories: true)
        try Data("the operator's\n".utf8).write(to: URL(fileURLWithPath: s.target + "/notes.txt"))
        try s.server.setFaults(#"[{"match": \#(Self.fetch), "action": \#(action)}]"#)
        return (s, a, try DirectorySnapshot(of: s.target))
    }

    /// `sync --transport pack` that must fail; returns the process result and its `error` event.
    func failingSync(_ s: Scenario, _ extra: [String] = []) throws -> (ProcessResult, [String: Any]) {
        let r = try s.run("sync", ["--transport", "pack", "--retries", "0", "--json"] + extra)
        #expect(r.status != 0, "the sync succeeded: \(r.stdoutString)")
        let event = r.stdoutString.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.last { $0["event"] as? String == "error" }
        return (r, try #require(event, "no error event: \(r.stdoutString) \(r.stderrString)"))
    }

    /// The git listener's `host:port`, as the errors name it.
    func gitHost(_ s: Scenario) -> String { String(s.server.gitURL.dropFirst("http://".count)) }

    /// Bytes of the objects in the store (executable twins not counted: they are copies made at apply time).
    func storedBytes(_ s: Scenario) throws -> Int {
        let objects = s.store + "/objects"
        guard FileManager.default.fileExists(atPath: objects) else { return 0 }
        var total = 0
        for dir in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + dir)
            where !name.hasSuffix(".x") {
                let attributes = try FileManager.default.attributesOfItem(atPath: objects + "/" + dir + "/" + name)
                total += attributes[.size] as? Int ?? 0
            }
        }
        return total
    }

    /// Ids in the store that `commit` does not reach (its closure: the commit, its trees and blobs).
    func unreachableObjects(_ s: Scenario, _ commit: String) throws -> [String] {
        let closure = Set(
            try s.repo.git("rev-list", "--objects", commit).split(separator: "\n").map { String($0.prefix(40)) })
        let objects = s.store + "/objects"
        guard FileManager.default.fileExists(atPath: objects) else { return [] }
        var strays: [String] = []
        for dir in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + dir)
            where !name.hasSuffix(".x") && !closure.contains(dir + name) {
                strays.append(dir + name)
            }
        }
        return strays
    }

    @Test func anOversizedPackIsCutOffAtMaxDownload() throws {
        // 4 MiB of unrequested blobs after the commit's objects (about 80 KB); the run may download 1 MiB.
        let (s, _, before) = try scenario(#"{"pack_extra_blobs": 4, "extra_blob_size": 1048576}"#)
        let (r, error) = try failingSync(s, ["--max-download", "1M"])
        #expect(r.status == 6, "\(r.stderrString)")
        #expect(error["code"] as? String == "limit-exceeded")
        let message = error["message"] as? String ?? ""
        #expect(message.contains(gitHost(s)), "\(message)")
        #expect(message.contains("--max-download") && message.contains("1 MiB"), "\(message)")
        #expect((error["hint"] as? String)?.contains("raise --max-download") == true)
        #expect(try DirectorySnapshot(of: s.target) == before, "the target was touched")
        let stored = try storedBytes(s)
        #expect(stored <= 1 << 20, "the store grew by \(stored) bytes")
    }

    @Test func anInflatedObjectCountIsRefusedAtTheHeader() throws {
        let (s, _, before) = try scenario(#"{"pack_object_count": 4294967295}"#)
        let (r, error) = try failingSync(s)
        #expect(r.status == 1, "\(r.stderrString)")
        #expect(error["code"] as? String == "malformed-response")
        let message = error["message"] as? String ?? ""
        #expect(message.contains(gitHost(s)), "\(message)")
        #expect(message.contains("4294967295 objects") && message.contains("1000000"), "\(message)")
        #expect(try DirectorySnapshot(of: s.target) == before, "the target was touched")
        #expect(try storedBytes(s) == 0, "objects were stored from a refused pack")
    }

    @Test func unrequestedObjectsAreRefusedAndNotStored() throws {
        let (s, a, before) = try scenario(#"{"pack_extra_blobs": 3, "extra_blob_size": 2000}"#)
        let (r, error) = try failingSync(s)
        #expect(r.status == 1, "\(r.stderrString)")
        #expect(error["code"] as? String == "malformed-response")
        let message = error["message"] as? String ?? ""
        #expect(message.contains(gitHost(s)), "\(message)")
        #expect(message.contains("3 objects") && message.contains("does not reach"), "\(message)")
        #expect(try DirectorySnapshot(of: s.target) == before, "the target was touched")
        let strays = try unreachableObjects(s, a)
        #expect(strays.isEmpty, "objects the commit does not reach were stored: \(strays)")
    }

    @Test func bytesAfterTheFinalFlushAreRefused() throws {
        let (s, a, before) = try scenario(#"{"append": "0009more\n0000"}"#)
        let (r, error) = try failingSync(s)
        #expect(r.status == 1, "\(r.stderrString)")
        #expect(error["code"] as? String == "malformed-response")
        let message = error["message"] as? String ?? ""
        #expect(message.contains(gitHost(s)), "\(message)")
        #expect(message.contains("after its final flush"), "\(message)")
        #expect(try DirectorySnapshot(of: s.target) == before, "the target was touched")
        #expect(try unreachableObjects(s, a).isEmpty)
    }

    @Test func aSlowDripFailsTheMinimumSpeed() throws {
        // Once the pack flows, 2 bytes/s for up to 20 s (then the rest at once): the stall check (1 byte/s) lets it
        // through; --min-speed (1 KiB/s by default) over a 3 s window does not.
        let (s, _, before) = try scenario(
            #"{"drip_after_bytes": 200, "drip_bytes_per_second": 2, "drip_for_ms": 20000}"#)
        let (r, error) = try failingSync(s, ["--stall-timeout", "3"])
        #expect(r.status == 5, "\(r.stderrString)")
        #expect(error["code"] as? String == "network")
        let message = error["message"] as? String ?? ""
        #expect(message.contains(gitHost(s)), "\(message)")
        #expect(message.contains("1 KiB/s") && message.contains("--min-speed"), "\(message)")
        #expect((error["hint"] as? String)?.contains("lower --min-speed") == true)
        #expect(try DirectorySnapshot(of: s.target) == before, "the target was touched")
        #expect(try storedBytes(s) < 4096)
    }

    @Test func maxDownloadCoversTheRawPath() throws {
        // Commit A holds a 70,000-byte blob; the per-blob path may download 50 KiB.
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let r = try s.run("sync", ["--transport", "raw", "--retries", "0", "--max-download", "50K", "--json"])
        #expect(r.status == 6, "\(r.stderrString)")
        #expect(r.stderrString.contains("--max-download"), "\(r.stderrString)")
        #expect(r.stderrString.contains(String(s.server.rawURL.dropFirst("http://".count))), "\(r.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: s.target + "/README.md"), "the target was touched")
        #expect(try storedBytes(s) <= 50 << 10)
    }
}
