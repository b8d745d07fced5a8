import CCurl
import SmartSyncCore

/// libcurl, loaded when a run first needs the network rather than by the dynamic loader at exec.
///
/// The executable does not link libcurl: mapping it and its ~32 libraries (TLS, LDAP, Kerberos, HTTP/2, …) and
/// relocating them took about half of a process's start, also on runs that make no request (`--version`, a
/// `--source` sync, a full commit id already applied). A run that will make a request calls ``preload()`` as soon
/// as it knows, which loads the library (`dlopen("libcurl.so.4")`, `dlsym`, `curl_global_init`) on a background
/// thread while the run loads its state; whatever first needs curl calls ``load()``, which waits for that load (or
/// does it) once per process. "libcurl loaded on demand" in docs/ARCHITECTURE.md.
public enum CurlLibrary {
    /// The soname loaded: libcurl's ABI 4, any TLS flavour (Debian's `libcurl4`).
    public static let soname = "libcurl.so.4"

    /// Starts loading libcurl on a background thread and returns at once. Idempotent; a failure surfaces at
    /// ``load()``.
    public static func preload() {
        ss_curl_preload()
    }

    /// Whether this process has loaded libcurl (without loading it).
    public static var isLoaded: Bool { ss_curl_is_loaded() != 0 }

    /// Makes libcurl usable in this process, waiting for a load ``preload()`` started. Thread-safe; after the
    /// first call, one atomic load.
    ///
    /// - Throws: `SmartSyncError(.internal)` naming `libcurl.so.4` and the loader's reason when it cannot be
    ///   loaded, its functions are missing or `curl_global_init` fails.
    public static func load() throws {
        var reason: UnsafePointer<CChar>?
        guard ss_curl_load(&reason) != 0 else { return }
        let detail = reason.map { String(cString: $0) } ?? "cannot load \(soname)"
        throw SmartSyncError(
            .internal, "this run needs the network and libcurl is unusable: \(detail)",
            hint: "install libcurl (Debian/Ubuntu: apt-get install libcurl4; Fedora: dnf install libcurl)")
    }
}
