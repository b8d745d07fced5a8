import FoundationEssentials
import SmartSyncCore

/// The PEM trust store handed to libcurl when the user adds a CA with `--cacert FILE`.
///
/// `--cacert` ADDS to the system's trust: the blob is the system bundle followed by the user's file, passed with
/// `CURLOPT_CAINFO_BLOB`. Used only where libcurl's default directory cannot stand in for the bundle (``TrustStore``).
struct CABundle: Sendable {
    /// Places distributions keep their bundle of trusted roots, in the order curl itself probes them.
    static let systemBundleCandidates = [
        "/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Gentoo, Arch, NixOS
        "/etc/pki/tls/certs/ca-bundle.crt",  // Fedora, RHEL
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL, CentOS
        "/etc/ssl/ca-bundle.pem",  // openSUSE
        "/etc/ssl/cert.pem",  // Alpine, macOS, BSDs
        "/usr/local/share/certs/ca-root-nss.crt",  // FreeBSD
    ]

    /// System roots plus the extra CA, as one PEM blob.
    let pem: [UInt8]
    /// The system bundle that was included, if one was found.
    let systemBundlePath: String?

    /// Loads the system bundle plus `extraCAFile`.
    ///
    /// - Throws: `.invalidArgument` naming the file when it is missing, unreadable or holds no PEM certificate.
    init(extraCAFile: String, systemCandidates: [String] = CABundle.systemBundleCandidates) throws {
        let extra = try Self.check(extraCAFile: extraCAFile)
        var bytes: [UInt8] = []
        var found: String?
        for candidate in systemCandidates {
            if let system = FileManager.default.contents(atPath: candidate), !system.isEmpty {
                bytes.append(contentsOf: system)
                if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
                found = candidate
                break
            }
        }
        bytes.append(contentsOf: extra)
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        self.pem = bytes
        self.systemBundlePath = found
    }

    /// The bytes of `extraCAFile` (`--cacert`), checked to be readable and to hold a PEM certificate.
    ///
    /// - Throws: `.invalidArgument` naming the file when it is missing, unreadable or holds no PEM certificate.
    @discardableResult
    static func check(extraCAFile: String) throws -> Data {
        let extra: Data
        do {
            extra = Data(try readWholeFile(extraCAFile))
        } catch {
            throw SmartSyncError(
                .invalidArgument,
                "cannot read the CA certificate file '\(extraCAFile)' given with --cacert: "
                    + error.reason,
                hint: "pass a readable PEM file")
        }
        guard let text = String(data: extra, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----") else {
            throw SmartSyncError(
                .invalidArgument,
                "the CA certificate file '\(extraCAFile)' given with --cacert holds no PEM certificate "
                    + "('-----BEGIN CERTIFICATE-----'). "
                    + "Convert it with 'openssl x509 -inform DER -in FILE -out FILE.pem'"
            )
        }
        return extra
    }
}
