import Foundation
import GitObjects
import ObjectStore
import Testing
import Validation

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
}
