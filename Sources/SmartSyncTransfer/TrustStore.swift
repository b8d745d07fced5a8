import Foundation
import SmartSyncCore

/// Where libcurl finds the roots a TLS handshake is verified against, decided once per engine.
///
/// Debian's libcurl defaults to both the system bundle (`/etc/ssl/certs/ca-certificates.crt`, ~140 roots in one PEM
/// file) and the hashed directory beside it. OpenSSL parses every root of a bundle at each handshake: 25 ms of CPU
/// on a no-op whose whole run is ~100 ms, spent before the one request it makes. From a hashed directory it reads
/// only the issuer the server's chain names (`HASH.0`, the links `update-ca-certificates` and `c_rehash` make). So
/// where the system has such a directory, the bundle is dropped and the directory alone is used, with `--cacert`'s
/// file as the one CA file: the same roots on a system whose bundle and directory are made from one list, as
/// Debian's are, and never more than curl's default trusts (it already trusts the directory). Where there is no
/// hashed directory (Fedora's `/etc/pki`), the bundle is kept as before: curl's default, or with `--cacert` the
/// system bundle followed by the file, as one blob (``CABundle``).
enum TrustStore: Sendable {
    /// A hashed certificate directory, plus `--cacert`'s file when given; no bundle.
    case hashedDirectory(String, extraFile: String?)
    /// The system bundle followed by `--cacert`'s file, as one blob (no hashed directory on this system).
    case bundle(CABundle)
    /// curl's built-in default (no hashed directory, no `--cacert`).
    case curlDefault

    /// Places distributions keep a hashed directory of trusted roots.
    static let hashedDirectoryCandidates = ["/etc/ssl/certs"]

    /// The trust for a run with `extraCAFile` (`--cacert`).
    ///
    /// - Throws: `.invalidArgument` naming the file when it is missing, unreadable or holds no PEM certificate.
    static func make(extraCAFile: String?, directories: [String] = hashedDirectoryCandidates) throws -> TrustStore {
        if let extraCAFile { try CABundle.check(extraCAFile: extraCAFile) }
        if let directory = directories.first(where: isHashedDirectory) {
            return .hashedDirectory(directory, extraFile: extraCAFile)
        }
        return try extraCAFile.map { .bundle(try CABundle(extraCAFile: $0)) } ?? .curlDefault
    }

    /// True when `path` is a directory holding at least one `HASH.N` entry (8 hex digits, a dot, a number): a
    /// directory OpenSSL can look issuers up in.
    static func isHashedDirectory(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if isHashName(name) { return true }
        }
        return false
    }

    /// `HASH.N`: 8 lower-case hex digits, a dot, one or more decimal digits.
    static func isHashName(_ name: [UInt8]) -> Bool {
        guard name.count >= 10, name[8] == UInt8(ascii: "."),
            name[..<8].allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return false }
        return name[9...].allSatisfy { (0x30...0x39).contains($0) }
    }
}
