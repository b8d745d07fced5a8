import CCurl
import Glibc
import SmartSyncCore

/// Where libcurl finds the roots a TLS handshake is verified against, decided once per engine.
///
/// Debian's libcurl defaults to both the system bundle (`/etc/ssl/certs/ca-certificates.crt`, ~140 roots in one PEM
/// file) and the hashed directory beside it. OpenSSL parses every root of a bundle at each handshake: 25 ms of CPU
/// on a no-op whose whole run is ~100 ms, spent before the one request it makes. From a hashed directory it reads
/// only the issuer the server's chain names (`HASH.0`, the links `update-ca-certificates` and `c_rehash` make). So
/// the bundle is dropped and the directory alone used, with `--cacert`'s file as the one CA file, but only where that
/// trusts the same roots, neither more nor fewer:
/// - the directory is libcurl's own default (`CURLINFO_CAPATH` of a fresh handle), so it trusts nothing curl did not
///   already trust (a libcurl built with a bundle alone would newly trust whatever a directory holds);
/// - it holds at least as many `HASH.N` entries as the default bundle (`CURLINFO_CAINFO`) holds certificates, so a
///   root appended to the bundle by hand (`cat corp.pem >> ca-certificates.crt`, never rehashed) keeps the bundle
///   in use instead of silently failing every handshake with that CA.
/// Elsewhere (NixOS and Fedora keep no hashed directory; a bundle grown by hand) the bundle is kept as before: curl's
/// default, or with `--cacert` the default bundle followed by the file, as one blob (``CABundle``).
enum TrustStore: Sendable {
    /// A hashed certificate directory, plus `--cacert`'s file when given; no bundle.
    case hashedDirectory(String, extraFile: String?)
    /// The system bundle followed by `--cacert`'s file, as one blob (no hashed directory on this system).
    case bundle(CABundle)
    /// curl's built-in default (no hashed directory, no `--cacert`).
    case curlDefault

    /// What libcurl trusts when told nothing: its built-in bundle and directory (either may be nil).
    struct CurlDefaults: Sendable, Equatable {
        var bundle: String?
        var directory: String?

        /// Asked of a fresh easy handle (`CURLINFO_CAINFO`, `CURLINFO_CAPATH`, libcurl 7.84 or later; nil before).
        static func ofLibcurl() -> CurlDefaults {
            guard let easy = curl_easy_init() else { return CurlDefaults() }
            defer { curl_easy_cleanup(easy) }
            func info(_ what: CURLINFO) -> String? {
                var value: UnsafeMutablePointer<CChar>?
                guard ss_easy_getinfo_string(easy, what, &value) == CURLE_OK, let value else { return nil }
                return String(cString: value)
            }
            return CurlDefaults(bundle: info(CURLINFO_CAINFO), directory: info(CURLINFO_CAPATH))
        }
    }

    /// The trust for a run with `extraCAFile` (`--cacert`). `directory`: a hashed directory to use whatever libcurl's
    /// defaults are (tests name their own); nil: libcurl's default directory, under the rules above.
    ///
    /// - Throws: `.invalidArgument` naming the file when it is missing, unreadable or holds no PEM certificate.
    static func make(
        extraCAFile: String?, directory: String? = nil, defaults: @autoclosure () -> CurlDefaults = .ofLibcurl()
    ) throws -> TrustStore {
        if let extraCAFile { try CABundle.check(extraCAFile: extraCAFile) }
        if let directory {
            if hashEntries(in: directory) > 0 { return .hashedDirectory(directory, extraFile: extraCAFile) }
        } else {
            let curl = defaults()
            if let system = curl.directory, holdsEveryRoot(of: curl.bundle, directory: system) {
                return .hashedDirectory(system, extraFile: extraCAFile)
            }
        }
        return try extraCAFile.map { .bundle(try CABundle(extraCAFile: $0)) } ?? .curlDefault
    }

    /// True when `directory` has at least as many `HASH.N` entries that are readable files (a dangling link counts
    /// for nothing) as `bundle` (nil: no bundle) has certificates, and at least one: a count, not a comparison of the
    /// roots, which would parse what this exists to avoid parsing.
    ///
    /// Each engine start reads the bundle (~220 KB on Debian) to count: one `read`, then a byte loop, ~0.2 ms (a
    /// `Data` read and a sliced comparison took ~0.8 ms). A count cached by the bundle's inode and mtime was not
    /// worth a file for the rest (docs/BENCHMARKS.md, "Process start").
    static func holdsEveryRoot(of bundle: String?, directory: String) -> Bool {
        let entries = hashEntries(in: directory)
        guard entries > 0 else { return false }
        guard let bundle else { return true }
        guard let bytes = contents(of: bundle) else { return false }
        return entries >= occurrences(of: Array("-----BEGIN CERTIFICATE-----".utf8), in: bytes)
    }

    /// The whole file at `path`, or nil when it cannot be opened or read.
    static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        do { try readChunks(fd: fd, path: path) { bytes.append(contentsOf: $0) } } catch { return nil }
        return bytes
    }

    /// How often `needle` occurs in `bytes` (no overlap).
    static func occurrences(of needle: [UInt8], in bytes: [UInt8]) -> Int {
        bytes.withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { word in
                guard !word.isEmpty, let h = hay.baseAddress, let w = word.baseAddress, hay.count >= word.count else {
                    return 0
                }
                let first = w[0]
                let last = hay.count - word.count
                var count = 0
                var i = 0
                while i <= last {
                    if h[i] == first && memcmp(h + i, w, word.count) == 0 {
                        count += 1
                        i += word.count
                    } else {
                        i += 1
                    }
                }
                return count
            }
        }
    }

    /// The number of `HASH.N` entries (8 hex digits, a dot, a number: what OpenSSL looks issuers up by) in `path`
    /// that are regular files once their links are followed; 0 when it is no readable directory.
    static func hashEntries(in path: String) -> Int {
        guard let dir = opendir(path) else { return 0 }
        defer { closedir(dir) }
        var count = 0
        var st = stat()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            guard isHashName(name) else { continue }
            let found = (name + [0]).withUnsafeBufferPointer { n in
                n.baseAddress!.withMemoryRebound(to: CChar.self, capacity: n.count) {
                    fstatat(dirfd(dir), $0, &st, 0) == 0
                }
            }
            if found && (st.st_mode & S_IFMT) == S_IFREG { count += 1 }
        }
        return count
    }

    /// `HASH.N`: 8 lower-case hex digits, a dot, one or more decimal digits.
    static func isHashName(_ name: [UInt8]) -> Bool {
        guard name.count >= 10, name[8] == UInt8(ascii: "."),
            name[..<8].allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return false }
        return name[9...].allSatisfy { (0x30...0x39).contains($0) }
    }
}
