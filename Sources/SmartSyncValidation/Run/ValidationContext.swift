import Glibc
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline

/// Values shared by every check unless a check sets its own: the `[defaults]` table of the config.
public struct ValidationDefaults: Sendable, Equatable {
    /// Minimum free space on the target's file system, in MiB (`min_free_mb`).
    public var minFreeMB: Int64 = 1024
    /// The owner files must have (`owner`: a user name or uid).
    public var owner: String = "root"
    /// The group files must have (`group`: a group name or gid).
    public var group: String = "root"

    public init() {}
}

/// Where and with what the checks run.
public struct ValidationContext: Sendable {
    /// The directory checked (absolute).
    public var target: String
    /// The host root: every absolute system path (`/etc/nix/nix.conf`, `/dev/kvm`) is resolved under it.
    public var root: String
    /// Directories searched for tools (the `PATH`).
    public var searchPath: [String]
    /// The object store, for the manifest integrity check and restores; nil when there is none.
    public var store: ObjectStore?
    /// The state directory holding the target's last sync; nil when there is none.
    public var state: StateStore?
    /// `--quick`: use no slow means (no `nix-instantiate`).
    public var quick: Bool
    public var defaults: ValidationDefaults
    /// How `--fix` places a file it restores from the store (the config's `[sync] link_mode`, as syncs do).
    public var linkMode: LinkMode = .auto

    public init(
        target: String, root: String = "/", searchPath: [String]? = nil, store: ObjectStore? = nil,
        state: StateStore? = nil, quick: Bool = false, defaults: ValidationDefaults = ValidationDefaults()
    ) {
        self.target = StateStore.normalize(target)
        self.root = root == "/" ? "/" : StateStore.normalize(root)
        self.searchPath = searchPath ?? Self.environmentPath()
        self.store = store
        self.state = state
        self.quick = quick
        self.defaults = defaults
    }

    /// `PATH` from the environment, split; `/usr/bin:/bin` when unset.
    public static func environmentPath() -> [String] {
        let raw = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        return raw.split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    /// An absolute host path under the root (`/dev/kvm` → `<root>/dev/kvm`).
    public func hostPath(_ absolute: String) -> String {
        guard root != "/" else { return absolute }
        return root + (absolute.hasPrefix("/") ? absolute : "/" + absolute)
    }

    /// A config path: relative ones under the target, absolute ones under the host root.
    public func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return hostPath(path) }
        if path.isEmpty || path == "." { return target }
        return target + "/" + path
    }

    /// Where a resolved path is changed from, by directory descriptor: the target (for paths inside it), else the
    /// host root. A change never follows a symlink below that directory (see `TreeEditor`).
    public func editor(for full: String) -> (editor: TreeEditor, path: TreePath) {
        if full == target { return (TreeEditor(root: target), .root) }
        if full.hasPrefix(target + "/") {
            return (TreeEditor(root: target), TreePath(String(full.dropFirst(target.count + 1))))
        }
        let base = root == "/" ? "" : root
        let relative = full.hasPrefix(base + "/") ? String(full.dropFirst(base.count + 1)) : full
        return (TreeEditor(root: root), TreePath(relative))
    }

    /// The first executable `name` in ``searchPath``, or nil.
    public func findTool(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for dir in searchPath {
            let candidate = dir + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }
}
