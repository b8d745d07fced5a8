import Foundation
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncValidation
import TestSupport
import Testing

@Suite("integrity")
struct IntegrityCheckTests {
    @Test func withoutSyncStateItWarns() throws {
        let f = try Fixture()
        let result = try IntegrityCheck().run(f.context(synced: true))
        #expect(result.status == .warn && result.message.contains("no sync recorded"))
        #expect(Validator.run(IntegrityCheck(), try f.context(quick: true), fix: false).result.status == .skip)
    }

    @Test func changedFilesAreFoundAndRestored() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        let manifest = try f.recordSync()
        #expect(
            try IntegrityCheck().run(f.context(synced: true))
                == .pass("\(manifest.count) files match the last sync's manifest"))
        // An edit by replacement, a deletion, an exec-bit change.
        try f.write("configuration.nix", "{ edited = true; }\n")
        try FileManager.default.removeItem(atPath: f.target + "/modules/core/users.nix")
        try FileManager.default.removeItem(atPath: f.target + "/scripts/menu.sh")
        try f.write("scripts/menu.sh", "#!/bin/sh\necho menu\n", mode: 0o644)
        let found = try IntegrityCheck().run(f.context(synced: true))
        #expect(found.status == .fail && found.fixable)
        #expect(
            Set(found.details) == [
                "modified configuration.nix", "missing modules/core/users.nix", "type-changed scripts/menu.sh",
            ])
        let report = runFixing(IntegrityCheck(), try f.context(synced: true))
        #expect(report.fix?.actions.count == 3)
        #expect(report.fix?.failure == nil)
        #expect(report.result.status == .pass, "\(report.result.message)")
        #expect(try f.mode(f.target + "/scripts/menu.sh") == 0o555)
    }

    @Test func aDamagedObjectIsNotLinked() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        let manifest = try f.recordSync()
        let id = try #require(manifest["configuration.nix"]?.id)
        let store = try ObjectStore(root: f.tmp.path + "/store")
        // The object is damaged (written through the hardlink); the target file with it.
        let object = store.path(for: id)
        chmod(object, 0o644)
        try Data("{ damaged }\n".utf8).write(to: URL(fileURLWithPath: object))
        let result = try IntegrityCheck().run(f.context(synced: true))
        #expect(result.status == .fail && !result.fixable)
        #expect(result.message.contains("verify OWNER/REPO --repair"))
    }

    @Test func symlinksAreRestoredToo() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        var manifest = try f.recordSync()
        // Add a symlink to the recorded sync, as a tree with a 120000 entry would.
        let store = try ObjectStore(root: f.tmp.path + "/store")
        let id = try store.insert(Array("scripts/menu.sh".utf8))
        manifest["menu"] = Manifest.Entry(mode: .symlink, id: id)
        try StateStore(root: f.tmp.path + "/state").save(
            TargetState(
                target: f.target, commit: ObjectID.blob(Array("c".utf8)), ref: "main", appliedAtNs: 0,
                manifest: manifest))
        let report = runFixing(IntegrityCheck(), try f.context(synced: true))
        #expect(report.before?.details == ["missing menu"])
        #expect(report.fix?.actions.first?.contains("symlink recreated from the store") == true)
        #expect(report.result.status == .pass, "\(report.result.message)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: f.target + "/menu") == "scripts/menu.sh")
    }
}
