import Foundation
import SmartSyncCore
import Testing

@testable import SmartSyncTransfer

@Suite("--cacert adds to the system trust store")
struct CABundleTests {
    let directory: String = NSTemporaryDirectory() + "smart-sync-ca-\(UUID().uuidString)"

    func write(_ name: String, _ contents: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func bundleIsSystemRootsFollowedByExtraCA() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
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
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let extra = try write("extra.pem", "-----BEGIN CERTIFICATE-----\nEXTRA\n-----END CERTIFICATE-----\n")
        let bundle = try CABundle(extraCAFile: extra)
        let found = try #require(bundle.systemBundlePath, "no system CA bundle found on this machine")
        let systemSize = try #require(FileManager.default.contents(atPath: found)).count
        #expect(bundle.pem.count > systemSize)
    }

    @Test func fileWithoutCertificateIsInvalidArgument() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let junk = try write("junk.pem", "not a certificate")
        #expect {
            _ = try CABundle(extraCAFile: junk)
        } throws: { error in
            (error as? SmartSyncError)?.code == .invalidArgument
                && (error as? SmartSyncError)?.message.contains(junk) == true
        }
    }
}
