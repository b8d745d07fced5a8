import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

/// In-place writes to a synced file (which may share its inode with a store object, other targets and kept
/// generations) must never poison the store: the next plan reports the edit, the next sync keeps it and puts the
/// commit's bytes and mode back, and every store object, second target and rollback still equals its commit.
@Suite("in-place edits of synced files", .serialized)
struct InPlaceEditEndToEndTests {
    /// The ways an operator (as root) changes a synced file without replacing its inode.
    enum Edit: String, CaseIterable, Sendable {
        case cp, truncatingWrite, append, truncate, chmod, cpPreservingTime

        func apply(to path: String, scratch: String) throws {
            switch self {
            case .cp:
                // GNU cp opens an existing destination with O_TRUNC and writes into it.
                try Data("{ replaced = true; }\n".utf8).write(to: URL(fileURLWithPath: scratch))
                try run("/bin/cp", [scratch, path])
            case .truncatingWrite:
                let fd = open(path, O_WRONLY | O_TRUNC)
                try #require(fd >= 0, "tests run as root, which may write read-only files")
                let bytes = Array("{ edited = true; }\n".utf8)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            case .append:
                try run("/bin/sh", ["-c", "echo '# appended' >> \"$0\"", path])
            case .truncate:
                try run("/usr/bin/truncate", ["-s", "3", path])
            case .chmod:
                try run("/bin/chmod", ["600", path])
            case .cpPreservingTime:
                // Same size, and the destination keeps the source's times: only ctime tells.
                let original = try Data(contentsOf: URL(fileURLWithPath: path))
                var flipped = original
                flipped[0] = flipped[0] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
                try flipped.write(to: URL(fileURLWithPath: scratch))
                try run("/usr/bin/touch", ["-r", path, scratch])
                try run("/bin/cp", ["--preserve=timestamps", scratch, path])
            }
        }

        private func run(_ tool: String, _ args: [String]) throws {
            let r = try ProcessRunner.run(tool, args, check: false)
            try #require(r.status == 0, "\(tool) \(args) failed: \(r.stderrString)")
        }
    }

    private func objectIsIntact(_ path: String) throws -> Bool {
        let name = path.split(separator: "/").suffix(2).joined()
        guard let id = ObjectID(hex: String(name.prefix(40))) else { return true }
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        return [ObjectKind.blob, .tree, .commit, .tag].contains { ObjectID.hash($0, bytes) == id }
    }

    /// Every object under `objects/` hashes to its name (as some kind), and is read-only.
    private func expectStoreIntact(_ s: Scenario, _ edit: Edit) throws {
        let objects = s.store + "/objects"
        for dir in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + dir) {
                let path = objects + "/" + dir + "/" + name
                #expect(try objectIsIntact(path), "\(edit): store object \(dir)\(name) does not hash to its name")
                let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
                #expect(mode == (name.hasSuffix(".x") ? 0o555 : 0o444), "\(edit): \(dir)\(name) has mode \(mode ?? -1)")
            }
        }
    }

    private func permissions(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? -1
    }

    @Test(arguments: Edit.allCases)
    func inPlaceEditIsReportedKeptAndHealedEverywhere(_ edit: Edit) throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        let b = try Fixtures.commitB(s.repo)
        try s.sync()
        // flake.nix is the same blob in A and B: the target, the store and generation A share its inode.
        let path = s.target + "/flake.nix"
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        try edit.apply(to: path, scratch: s.dirs.appending("scratch-\(edit)"))
        let edited = try Data(contentsOf: URL(fileURLWithPath: path))

        let plan = try s.run("plan", ["--json"])
        #expect(plan.status == 3, "\(edit): plan did not report the edit: \(plan.stdoutString) \(plan.stderrString)")
        #expect(plan.stdoutString.contains("flake.nix"), "\(edit): plan does not name the edited path")

        let summary = try s.sync()
        try s.expectTargetEqualsArchive(b)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == good, "\(edit): the commit's bytes are not back")
        #expect(try permissions(path) == 0o444, "\(edit): the commit's mode is not back")
        let kept = summary["kept"] as? [[String: Any]] ?? []
        #expect(kept.contains { $0["path"] as? String == "flake.nix" }, "\(edit): the edit was not kept: \(summary)")
        if edited != good {
            let keptID = ObjectID.blob(Array(edited))
            let kept = s.store + "/objects/" + keptID.hex.prefix(2) + "/" + keptID.hex.dropFirst(2)
            #expect(FileManager.default.fileExists(atPath: kept), "\(edit): the edited bytes were not kept")
        }
        let again = try s.run("plan", ["--json"])
        #expect(again.status == 0, "\(edit): not up to date after the healing sync: \(again.stdoutString)")
        try expectStoreIntact(s, edit)
        // A no-op sync after the heal reads no file: the stat cache covers the target, and nothing is linked.
        let noop = try s.run("sync", ["--json"])
        let scanned = noop.stdoutString.split(separator: "\n").first { $0.contains(#""event":"scanned""#) } ?? ""
        #expect(scanned.contains(#""hashed":0"#), "\(edit): a no-op sync hashed files: \(scanned)")

        // A second target synced from the same store gets the commit's bytes.
        let second = s.dirs.appending("second")
        let r = try s.run("sync", ["--ref", b], target: second)
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: second + "/flake.nix")) == good)

        // The generation holding A shares the edited inode: a rollback to it must still give A.
        let rollback = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir, "--store", s.store, "--to", a],
            environment: s.environment(), check: false)
        #expect(rollback.status == 0, "\(edit): \(rollback.stderrString)")
        try s.expectTargetEqualsArchive(a)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == good, "\(edit): rollback brought back the edit")
        #expect(try permissions(path) == 0o444, "\(edit): rollback brought back the edited mode")
        try expectStoreIntact(s, edit)
    }

    /// An executable links the object's `0555` twin: a write through it that puts the time back (same size) damages
    /// the twin, which the scan must find and quarantine as it does an object.
    @Test func anExecutableWrittenInPlaceWithItsTimePutBackIsHealed() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        try s.sync()
        let path = s.target + "/scripts/tool.sh"  // executable in B
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        try Edit.cpPreservingTime.apply(to: path, scratch: s.dirs.appending("scratch"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) != good)
        try s.sync()
        try s.expectTargetEqualsArchive(b)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == good, "the damaged twin was linked again")
        // A second target from the same store gets the commit's bytes too.
        let second = s.dirs.appending("second")
        let r = try s.run("sync", [], target: second)
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: second + "/scripts/tool.sh")) == good)
    }
}
