import Foundation
import SmartSyncCore
import TestSupport
import Testing

@testable import SmartSyncTransfer

@Suite("the system's roots from a hashed directory, not a bundle parsed at each handshake")
struct TrustStoreTests {
    let scratch: TemporaryDirectory

    init() throws { scratch = try TemporaryDirectory(prefix: "smart-sync-trust") }

    @Test func hashNamesAreEightHexDigitsADotAndANumber() {
        for name in ["1234abcd.0", "ffffffff.12", "00000000.9"] { #expect(TrustStore.isHashName(Array(name.utf8)), "\(name)") }
        for name in ["1234ABCD.0", "1234abc.0", "1234abcd.", "1234abcd.x", "1234abcd0", "ca-certificates.crt", "1234abcdz.0"] {
            #expect(!TrustStore.isHashName(Array(name.utf8)), "\(name)")
        }
    }

    @Test func aDirectoryWithoutHashLinksKeepsTheBundle() throws {
        let plain = scratch["plain"]
        try TestFiles.write(plain + "/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n")
        let extra = scratch["extra.pem"]
        try TestFiles.write(extra, "-----BEGIN CERTIFICATE-----\nEXTRA\n-----END CERTIFICATE-----\n")
        guard case .bundle = try TrustStore.make(extraCAFile: extra, directories: [plain, scratch["missing"]]) else {
            Issue.record("a directory with no HASH.N entry is no hashed directory")
            return
        }
        guard case .curlDefault = try TrustStore.make(extraCAFile: nil, directories: [plain]) else {
            Issue.record("no hashed directory and no --cacert: curl's default")
            return
        }
    }

    @Test func anUnreadableCAFileIsRefusedWhateverTheDirectory() throws {
        #expect(throws: SmartSyncError.self) {
            _ = try TrustStore.make(extraCAFile: scratch["missing.pem"], directories: TrustStore.hashedDirectoryCandidates)
        }
    }

    /// The directory is what the handshake is verified against, with no bundle: nginx's test certificate is trusted
    /// through a hashed directory holding its CA alone (no --cacert), and refused through one without it.
    @Test func aHandshakeIsVerifiedAgainstTheHashedDirectory() async throws {
        try requireNginx()
        let fixture = try EngineFixture(NginxServer())
        defer { fixture.stop() }
        let server = fixture.server
        try TestFiles.write(server.root + "/hi.txt", "hi")
        let ca = try #require(server.trustedCertificate)
        let hash = try ProcessRunner.run("/usr/bin/openssl", ["x509", "-hash", "-noout", "-in", ca]).stdoutString
        let trusted = scratch["trusted"]
        try FileManager.default.createDirectory(atPath: trusted, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: trusted + "/" + hash.trimmingCharacters(in: .whitespacesAndNewlines) + ".0",
            withDestinationPath: ca)
        let engine = try fixture.makeEngine {
            $0.extraCAFile = nil
            $0.caDirectories = [trusted]
        }
        defer { engine.shutdown() }
        let response = try await engine.perform(TransferRequest(url: server.baseURL + "/hi.txt"))
        #expect(response.status == 200)

        let other = scratch["other"]
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: other + "/0badc0de.0", withDestinationPath: "/etc/ssl/certs/ca-certificates.crt")
        let refusing = try fixture.makeEngine {
            $0.extraCAFile = nil
            $0.caDirectories = [other]
        }
        defer { refusing.shutdown() }
        let error = await capturedError { try await refusing.perform(TransferRequest(url: server.baseURL + "/hi.txt")) }
        #expect(error?.code == .tls)
    }
}
