import Foundation
import TestSupport
import Testing

/// `dist/systemd/smart-sync@.service` and `smart-sync@.timer`, loaded by `systemd-analyze verify` as systemd loads
/// them on a host: the instance `smart-sync@hypervisor` from the templates plus the per-target drop-in
/// (`paths.conf.example`), with `ExecStart=` pointed at the built binary.
@Suite("systemd units")
struct SystemdUnitTests {
    static let installedBinary = "/usr/local/bin/smart-sync"

    /// The shipped units, installed in a scratch unit directory as `smart-sync@.service`, `smart-sync@.timer` and
    /// `smart-sync@hypervisor.service.d/paths.conf` (+ `extraDropIn` when given); the instance paths to verify.
    private func install(in scratch: TemporaryDirectory, extraDropIn: String? = nil) throws -> [String] {
        let service = try String(contentsOfFile: DeploymentTools.distUnits + "/smart-sync@.service", encoding: .utf8)
        #expect(service.contains("ExecStart=\(Self.installedBinary) "))
        let package = try DeploymentTools.packageDirectory(in: scratch)
        var files = [
            "smart-sync@.service": service.replacingOccurrences(
                of: Self.installedBinary, with: package + "/bin/smart-sync"),
            "smart-sync@.timer": try String(
                contentsOfFile: DeploymentTools.distUnits + "/smart-sync@.timer", encoding: .utf8),
            "smart-sync@hypervisor.service.d/paths.conf": try String(
                contentsOfFile: DeploymentTools.distUnits + "/paths.conf.example", encoding: .utf8),
        ]
        if let extraDropIn { files["smart-sync@hypervisor.service.d/zz-extra.conf"] = extraDropIn }
        let units = scratch.appending("units")
        try DeploymentTools.write(files, under: units)
        return [units + "/smart-sync@hypervisor.service", units + "/smart-sync@hypervisor.timer"]
    }

    @Test func shippedUnitsVerify() throws {
        if let why = DeploymentTools.missing(DeploymentTools.systemdAnalyze, package: "systemd") {
            print("skipped: \(why)")
            return
        }
        let scratch = try TemporaryDirectory(prefix: "units")
        let result = try DeploymentTools.verify(try install(in: scratch))
        #expect(result.status == 0, "\(result.stderrString)")
        #expect(!result.stderrString.contains("smart-sync@"), "\(result.stderrString)")
    }

    /// The check above could not fail if `verify` ignored the drop-ins or took warnings for success.
    @Test func verifyRefusesAMisspeltKeyInTheDropIn() throws {
        if let why = DeploymentTools.missing(DeploymentTools.systemdAnalyze, package: "systemd") {
            print("skipped: \(why)")
            return
        }
        let scratch = try TemporaryDirectory(prefix: "units")
        let result = try DeploymentTools.verify(
            try install(in: scratch, extraDropIn: "[Service]\nReadWritePath=/srv\n"))
        #expect(result.status != 0)
        #expect(result.stderrString.contains("ReadWritePath"), "\(result.stderrString)")
    }

    /// What the service promises (docs/SERVICE.md): a oneshot `update NAME`, the token only as a credential, the
    /// file system read-only but for the state, the store and the drop-in's paths, a bounded run.
    @Test func serviceAndTimerSettings() throws {
        let service = try String(contentsOfFile: DeploymentTools.distUnits + "/smart-sync@.service", encoding: .utf8)
        let settings = DeploymentTools.settings(service, section: "Service")
        func value(_ key: String) -> String? {
            settings.last { $0.key == key }.map { DeploymentTools.normalized($0.value) }
        }
        #expect(value("Type") == "oneshot")
        #expect(value("ExecStart") == "\(Self.installedBinary) ${SMART_SYNC_COMMAND} %i")
        #expect(value("Environment") == "SMART_SYNC_COMMAND=update")
        #expect(value("LoadCredential") == "gh-token:/etc/smart-sync/tokens/%i")
        #expect(!settings.contains { $0.key == "Environment" && $0.value.uppercased().contains("TOKEN") })
        #expect(value("ProtectSystem") == "strict")
        #expect(value("StateDirectory") == "smart-sync" && value("CacheDirectory") == "smart-sync")
        #expect(value("NoNewPrivileges") == "yes" && value("PrivateTmp") == "yes" && value("ProtectHome") == "yes")
        #expect(value("UMask") == "0077")
        #expect(value("TimeoutStartSec") != nil)
        #expect(value("RestrictAddressFamilies") == "AF_INET AF_INET6 AF_UNIX")
        let capabilities = Set((value("CapabilityBoundingSet") ?? "").split(separator: " ").map(String.init))
        #expect(capabilities == ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID"])
        // Setgid directories are carried over: RestrictSUIDSGID= would refuse them.
        #expect(value("RestrictSUIDSGID") == nil)

        let timer = try String(contentsOfFile: DeploymentTools.distUnits + "/smart-sync@.timer", encoding: .utf8)
        let timing = DeploymentTools.settings(timer, section: "Timer")
        #expect(timing.contains { $0.key == "RandomizedDelaySec" })
        #expect(timing.contains { $0.key == "Persistent" && DeploymentTools.normalized($0.value) == "yes" })
        #expect(DeploymentTools.settings(timer, section: "Install").contains { $0 == ("WantedBy", "timers.target") })
    }
}
