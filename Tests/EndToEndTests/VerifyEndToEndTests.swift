import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

@Suite("verify and --repair")
struct VerifyEndToEndTests {
    private func verify(_ s: Scenario, _ extra: [String] = [], withSource: Bool = false) throws -> ProcessResult {
        var args = ["verify"]
        if withSource {
            args += [
                s.slug, "--transport", "raw", "--api-url", s.server.apiURL, "--raw-url", s.server.rawURL, "--git-url",
                s.server.gitURL,
            ]
        }
        args += ["--target", s.target, "--store", s.store, "--state-dir", s.stateDir] + extra
        return try SmartSyncBinary.run(args, environment: s.environment(), check: false)
    }

    private func objectPath(_ s: Scenario, _ id: ObjectID) -> String {
        s.store + "/objects/" + id.hex.prefix(2) + "/" + id.hex.dropFirst(2)
    }

    @Test func editThroughAHardlinkIsFoundAndRepaired() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        let clean = try verify(s)
        #expect(clean.status == 0, "\(clean.stderrString)")
        #expect(clean.stderrString.contains("intact"))

        // Root writes through the read-only hardlink: the store object changes with it.
        let path = s.target + "/flake.nix"
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let expectedID = ObjectID.blob(Array(original))
        let fd = open(path, O_WRONLY | O_TRUNC)
        try #require(fd >= 0, "tests run as root, which may write read-only files")
        let edit = Array("{ edited = true; }\n".utf8)
        _ = edit.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        // Plus an ordinary deletion and an exec-bit flip.
        try FileManager.default.removeItem(atPath: s.target + "/README.md")
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: s.target + "/scripts/menu.sh")

        let found = try verify(s, ["--json"])
        #expect(found.status == 3, "\(found.stderrString)")
        let out = found.stdoutString
        #expect(out.contains(#""path":"flake.nix""#) && out.contains(#""kind":"modified""#))
        #expect(out.contains(#""path":"README.md""#) && out.contains(#""kind":"missing""#))
        #expect(out.contains(#""path":"scripts\/menu.sh""#) || out.contains(#""path":"scripts/menu.sh""#))
        #expect(out.contains(#""event":"corrupt-object","id":"\#(expectedID.hex)""#))

        let repaired = try verify(s, ["--repair"], withSource: true)
        #expect(repaired.status == 0, "\(repaired.stderrString)")
        try s.expectTargetEqualsArchive(a)
        #expect(try BlobHasher.hashFile(atPath: objectPath(s, expectedID)).id == expectedID)
        // The local edit was kept in the store before it was replaced.
        #expect(FileManager.default.fileExists(atPath: objectPath(s, ObjectID.blob(edit))))
        #expect(try verify(s).status == 0)
    }

    @Test func verifyWithoutStateOrRepairWithoutSourceIsAClearError() throws {
        let s = try Scenario()
        let none = try verify(s)
        #expect(none.status == 4)
        #expect(none.stderrString.contains("has no sync state"))
        let noSource = try verify(s, ["--repair"])
        #expect(noSource.status == 64)
        #expect(noSource.stderrString.contains("--repair needs the source"))
    }
}
