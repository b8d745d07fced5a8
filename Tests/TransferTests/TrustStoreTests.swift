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
        for name in ["1234abcd.0", "ffffffff.12", "00000000.9"] {
            #expect(TrustStore.isHashName(Array(name.utf8)), "\(name)")
        }
        for name in [
            "1234ABCD.0", "1234abc.0", "1234abcd.", "1234abcd.x", "1234abcd0", "ca-certificates.crt", "1234abcdz.0",
        ] {
            #expect(!TrustStore.isHashName(Array(name.utf8)), "\(name)")
        }
    }

    private func pem(_ n: Int) -> String {
        String(repeating: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n", count: n)
    }

    /// A directory of `n` hash entries and a bundle of `certificates`, as libcurl's defaults.
    private func system(hashes n: Int, certificates: Int) throws -> TrustStore.CurlDefaults {
        let dir = scratch["certs-\(n)-\(certificates)"]
        try TestFiles.write(dir + "/ca-certificates.crt", pem(certificates))
        for k in 0..<n { try TestFiles.write(dir + "/" + String(format: "%08x.0", k), pem(1)) }
        return TrustStore.CurlDefaults(bundle: dir + "/ca-certificates.crt", directory: dir)
    }

    /// What `trust` hands curl, as one comparable word (the directory's path for a hashed directory).
    private func kind(_ trust: TrustStore) -> String {
        switch trust {
        case .hashedDirectory(let directory, let extra): return "directory \(directory) extra \(extra ?? "none")"
        case .bundle: return "bundle"
        case .curlDefault: return "curl default"
        }
    }

    @Test func libcurlsDirectoryIsUsedOnlyWhereItHoldsEveryRootOfTheBundle() throws {
        defer { scratch.remove() }
        let whole = try system(hashes: 3, certificates: 3)
        #expect(
            kind(try TrustStore.make(extraCAFile: nil, defaults: whole)) == "directory \(whole.directory!) extra none",
            "a directory holding every root of the bundle replaces it")
        // A root appended to the bundle by hand, never rehashed: the bundle stays in use.
        let grown = try system(hashes: 3, certificates: 4)
        #expect(
            kind(try TrustStore.make(extraCAFile: nil, defaults: grown)) == "curl default",
            "a bundle with more roots than the directory has entries must stay")
        let extra = scratch["extra.pem"]
        try TestFiles.write(extra, pem(1))
        #expect(
            kind(try TrustStore.make(extraCAFile: extra, defaults: grown)) == "bundle",
            "with --cacert: the default bundle and the file as one blob")
        // A libcurl with no default directory (built with a bundle alone): the bundle, never some directory.
        let bundleOnly = TrustStore.CurlDefaults(bundle: whole.bundle, directory: nil)
        #expect(kind(try TrustStore.make(extraCAFile: nil, defaults: bundleOnly)) == "curl default")
        // A default directory with no hash entry (NixOS keeps only bundles in /etc/ssl/certs).
        let plain = try system(hashes: 0, certificates: 2)
        #expect(
            kind(try TrustStore.make(extraCAFile: nil, defaults: plain)) == "curl default",
            "a directory with no HASH.N entry is no hashed directory")
    }

    @Test func certificatesAreCountedByWholeMarkersAnywhereInTheBundle() {
        let marker = Array("-----BEGIN CERTIFICATE-----".utf8)
        #expect(TrustStore.occurrences(of: marker, in: marker + marker) == 2, "back to back, the last at the very end")
        #expect(TrustStore.occurrences(of: marker, in: Array("-".utf8) + marker + Array("x".utf8)) == 1)
        #expect(TrustStore.occurrences(of: marker, in: Array(marker.dropLast())) == 0, "a cut marker is none")
        #expect(TrustStore.occurrences(of: marker, in: []) == 0)
        #expect(TrustStore.occurrences(of: [], in: marker) == 0)
    }

    @Test func aBundleLargerThanOneReadIsCountedWhole() throws {
        defer { scratch.remove() }
        // 300 certificates of ~1 KB: past one 256 KiB read, so a marker straddles the first read's end.
        let body = String(repeating: "A", count: 1000)
        let bundle = scratch["large.crt"]
        try TestFiles.write(
            bundle, String(repeating: "-----BEGIN CERTIFICATE-----\n\(body)\n-----END CERTIFICATE-----\n", count: 300))
        let dir = scratch["hashes"]
        for k in 0..<299 { try TestFiles.write(dir + "/" + String(format: "%08x.0", k), pem(1)) }
        #expect(!TrustStore.holdsEveryRoot(of: bundle, directory: dir), "299 entries for 300 certificates")
        try TestFiles.write(dir + "/" + String(format: "%08x.0", 299), pem(1))
        #expect(TrustStore.holdsEveryRoot(of: bundle, directory: dir), "300 entries for 300 certificates")
        #expect(!TrustStore.holdsEveryRoot(of: scratch["missing.crt"], directory: dir), "an unreadable bundle")
    }

    @Test func thisSystemsLibcurlNamesItsDefaults() {
        // Debian's libcurl is built with both (curl-config --configure: --with-ca-bundle, --with-ca-path).
        let defaults = TrustStore.CurlDefaults.ofLibcurl()
        #expect(defaults.bundle == "/etc/ssl/certs/ca-certificates.crt")
        #expect(defaults.directory == "/etc/ssl/certs")
    }

    @Test func anUnreadableCAFileIsRefusedWhateverTheDirectory() throws {
        defer { scratch.remove() }
        #expect(throws: SmartSyncError.self) { _ = try TrustStore.make(extraCAFile: scratch["missing.pem"]) }
    }

    /// The directory is what the handshake is verified against, with no bundle: nginx's test certificate is trusted
    /// through a hashed directory holding its CA alone (no --cacert), and refused through one without it. (That
    /// libcurl's default bundle is off then, not merely unable to trust nginx, is proved end to end with a bundle that
    /// trusts it: `TLSEndToEndTests.theBundleIsOffWhereTheHashedDirectoryIsUsed`.)
    @Test func aHandshakeIsVerifiedAgainstTheHashedDirectory() async throws {
        defer { scratch.remove() }
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
            $0.caDirectory = trusted
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
            $0.caDirectory = other
        }
        defer { refusing.shutdown() }
        let error = await capturedError { try await refusing.perform(TransferRequest(url: server.baseURL + "/hi.txt")) }
        #expect(error?.code == .tls)
    }
}
