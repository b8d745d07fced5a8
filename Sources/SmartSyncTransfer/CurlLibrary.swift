import CCurl
import SmartSyncCore

/// libcurl, loaded when a run first needs the network rather than by the dynamic loader at exec.
///
/// The executable does not link libcurl: mapping it and its ~32 libraries (TLS, LDAP, Kerberos, HTTP/2, …) and
/// relocating them took about half of a process's start, also on runs that make no request (`--version`, a
/// `--source` sync, a full commit id already applied). Whatever first needs curl (the transfer engine, a URL's
/// parse) calls ``load()``, which loads the library (`dlopen("libcurl.so.4")`, `dlsym`, `curl_global_init`) once
/// per process. "libcurl loaded on demand" in docs/ARCHITECTURE.md.
public enum CurlLibrary {
    /// The soname loaded: libcurl's ABI 4 (Debian's `libcurl4`, built with OpenSSL).
    public static let soname = "libcurl.so.4"

    /// Makes libcurl usable in this process, loading it on the first call. Thread-safe; after the first call, one
    /// atomic load.
    ///
    /// - Throws: `SmartSyncError(.internal)` naming `libcurl.so.4` and the loader's reason when it cannot be
    ///   loaded, its functions are missing or `curl_global_init` fails.
    public static func load() throws {
        var reason: UnsafePointer<CChar>?
        guard ss_curl_load(&reason) != 0 else { return }
        let detail = reason.map { String(cString: $0) } ?? "cannot load \(soname)"
        throw SmartSyncError(
            .internal, "this run needs the network and libcurl is unusable: \(detail)",
            hint: "install libcurl (Debian/Ubuntu: apt-get install libcurl4; Fedora: dnf install libcurl)",
            cause: Unusable(reason: detail))
    }

    /// The cause of ``load()``'s error, and of any other failure of the engine thread's setup (the trust store, the
    /// multi handle): a problem of this machine, which no other source or transport that goes through libcurl
    /// mends. The sources' failover reads it so and stops; the setup runs on the engine's thread and fails the first
    /// request. (A `git clone` could still work, as git's `git-remote-https` links its own libcurl, but a machine
    /// this broken is better reported than worked around.)
    public struct Unusable: Error, Sendable, CustomStringConvertible {
        /// The loader's reason, or the failed setup step's.
        public let reason: String
        /// The failed step's own cause, kept (nil for the loader's, or when the step's error had none).
        public let underlying: (any Error & Sendable)?
        public var description: String { underlying.map { "\(reason): \($0)" } ?? reason }

        public init(reason: String, underlying: (any Error & Sendable)? = nil) {
            self.reason = reason
            self.underlying = underlying
        }
    }
}
