import Foundation
import SmartSyncCore
import TestSupport
import Testing

@testable import SmartSyncTransfer

@Suite("--cacert adds to the system trust store")
struct CABundleTests {
    let scratch: TemporaryDirectory
    var directory: String { scratch.path }

    init() throws { scratch = try TemporaryDirectory(prefix: "smart-sync-ca") }

    func write(_ name: String, _ contents: String) throws -> String {
        try TestFiles.write(scratch[name], contents)
        return scratch[name]
    }

    @Test func bundleIsSystemRootsFollowedByExtraCA() throws {
        let system = try write("system.pem", "-----BEGIN CERTIFICATE-----\nSYSTEM\n-----END CERTIFICATE-----")
        let extra = try write("extra.pem", "-----BEGIN CERTIFICATE-----\nEXTRA\n-----END CERTIFICATE-----\n")
        let bundle = try CABundle(extraCAFile: extra, systemCandidates: [directory + "/missing.pem", system])
        #expect(bundle.systemBundlePath == system)
        let text = String(decoding: bundle.pem, as: UTF8.self)
        #expect(
            text == "-----BEGIN CERTIFICATE-----\nSYSTEM\n-----END CERTIFICATE-----\n"
                + "-----BEGIN CERTIFICATE-----\nEXTRA\n-----END CERTIFICATE-----\n")
    }

    @Test func realSystemBundleIsIncluded() throws {
        let extra = try write("extra.pem", "-----BEGIN CERTIFICATE-----\nEXTRA\n-----END CERTIFICATE-----\n")
        let bundle = try CABundle(extraCAFile: extra)
        let found = try #require(bundle.systemBundlePath, "no system CA bundle found on this machine")
        let systemSize = try #require(FileManager.default.contents(atPath: found)).count
        #expect(bundle.pem.count > systemSize)
    }

    @Test func fileWithoutCertificateIsInvalidArgument() throws {
        let junk = try write("junk.pem", "not a certificate")
        #expect {
            _ = try CABundle(extraCAFile: junk)
        } throws: { error in
            (error as? SmartSyncError)?.code == .invalidArgument
                && (error as? SmartSyncError)?.message.contains(junk) == true
        }
    }

    /// An unreadable `--cacert` is named with strerror's reason: of open for a missing file, of read for a directory.
    @Test func unreadableFileIsNamedWithTheReason() throws {
        let missing = scratch["missing.pem"]
        let gone = #expect(throws: SmartSyncError.self) { try CABundle.check(extraCAFile: missing) }
        #expect(gone?.code == .invalidArgument)
        #expect(gone?.message.contains("'\(missing)'") == true)
        #expect(gone?.message.hasSuffix(": No such file or directory") == true, "\(String(describing: gone))")
        try TestFiles.makeDirectories(scratch["dir.pem"])
        let directory = #expect(throws: SmartSyncError.self) { try CABundle.check(extraCAFile: scratch["dir.pem"]) }
        #expect(directory?.message.contains(scratch["dir.pem"]) == true)
        #expect(directory?.message.hasSuffix(": Is a directory") == true, "\(String(describing: directory))")
    }
}
