import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncPipeline
import SmartSyncValidation
import SmartSyncWorkflow

/// The `[store]` and `[sync]` tables of the config file (`/etc/smart-sync/config.toml`): gc's ages, the size policy,
/// and how files go into targets. A command-line flag wins over the file.
///
/// ```toml
/// [store]
/// path = "/var/cache/smart-sync"  # the object store (--store)
/// state = "/var/lib/smart-sync"   # the state directory (--state-dir)
/// max_size = "20G"          # run gc after a sync that leaves the store's own data above this
/// keep_local_age = "90d"    # kept local versions younger than this are gc roots
/// gc_grace = "1h"           # objects younger than this are never collected
/// [sync]
/// link_mode = "reflink"     # auto (default), hardlink, reflink or copy: as --link-mode
/// allow_downgrade = false   # as --allow-downgrade (a target's table wins)
/// require_signed_commits = false; allowed_signers = "/etc/smart-sync/allowed_signers"
/// ```
/// Sizes take `K`, `M`, `G`, `T` (powers of 1024) or a byte count; ages take `s`, `m`, `h`, `d` or seconds. The
/// `[target.NAME]` tables are parsed by ``ConfiguredTarget/parseAll(_:file:)``; `target` (a string), `builtin`,
/// `[defaults]` and `[[check]]` belong to `validate`. An unknown key in these tables, or at the top level, is an error
/// naming the file and line.
struct FileSettings {
    /// The file read, or nil when there was none.
    var file: String?
    /// `[store] path` and `state`: the store and state directories (`--store` and `--state-dir` win).
    var storePath: String?
    var statePath: String?
    /// The `[target.NAME]` tables, sorted by name.
    var targets: [ConfiguredTarget] = []
    var maxSize: Int?
    var keepLocalAge: Int64 = 90 * 86400
    var gcGrace: Int64 = 3600
    var linkMode: LinkMode?
    /// `[sync] allow_downgrade`, `require_signed_commits`, `allowed_signers` (``CommitPolicyOptions``).
    var allowDowngrade: Bool?
    var requireSignedCommits: Bool?
    var allowedSigners: String?

    /// The settings from `path` (default: the system config file when it exists; none: the defaults).
    static func load(path: String?) throws -> FileSettings {
        let file = path ?? ValidationConfig.defaultFile
        guard let (bytes, _) = try FileSystem.readFileIfPresent(file) else {
            if path != nil {
                throw SmartSyncError(.notFound, "the config file \(file) does not exist",
                hint: "check the --config path")
            }
            return FileSettings()
        }
        let document = try TOMLParser.parse(String(decoding: bytes, as: UTF8.self), file: file)
        for key in document.keys where !topLevelKeys.contains(key) {
            throw SmartSyncError(
                .invalidArgument,
                "\(file):\(document.position(of: key).line): unknown key '\(key)'; known at the top level: "
                    + topLevelKeys.joined(separator: ", "))
        }
        var settings = FileSettings()
        settings.file = file
        settings.targets = try ConfiguredTarget.parseAll(document, file: file)
        if let sync = document["sync"] {
            guard let table = sync.tableValue else {
                throw SmartSyncError(
                    .invalidArgument, "\(file):\(document.position(of: "sync").line): 'sync' must be a table")
            }
            for key in table.keys {
                let line = table.position(of: key).line
                if try settings.readCommitKey(key, table[key]!, at: "\(file):\(line)") { continue }
                guard key == "link_mode" else {
                    throw SmartSyncError(
                        .invalidArgument,
                        "\(file):\(line): unknown key '\(key)' in [sync]; known: link_mode, allow_downgrade, "
                            + "require_signed_commits, allowed_signers")
                }
                guard let mode = table[key]?.stringValue.flatMap(LinkMode.init(rawValue:)) else {
                    throw SmartSyncError(
                        .invalidArgument,
                        "\(file):\(line): 'link_mode' must be one of \"auto\", \"hardlink\", \"reflink\", \"copy\"")
                }
                settings.linkMode = mode
            }
        }
        guard let value = document["store"] else { return settings }
        guard let table = value.tableValue else {
            throw SmartSyncError(
                .invalidArgument, "\(file):\(document.position(of: "store").line): 'store' must be a table")
        }
        func fail(_ key: String, _ message: String) -> SmartSyncError {
            SmartSyncError(.invalidArgument, "\(file):\(table.position(of: key).line): \(message)")
        }
        for key in table.keys {
            let v = table[key]!
            switch key {
            case "max_size":
                guard
                    let n = v.integerValue.map(Int.init) ?? v.stringValue.flatMap({ ByteCount(parsing: $0)?.bytes }),
                    n > 0
                else {
                    throw fail(key, "'max_size' must be a size such as \"20G\" or a byte count")
                }
                settings.maxSize = n
            case "path", "state":
                guard let dir = v.stringValue, dir.hasPrefix("/") else {
                    let example = "/var/\(key == "path" ? "cache" : "lib")/smart-sync"
                    throw fail(key, "'\(key)' must be an absolute path in quotes, such as \"\(example)\"")
                }
                if key == "path" { settings.storePath = dir } else { settings.statePath = dir }
            case "keep_local_age", "gc_grace":
                guard let s = v.integerValue ?? v.stringValue.flatMap(parseDuration), s >= 0 else {
                    throw fail(key, "'\(key)' must be an age such as \"90d\", \"12h\", \"30m\" or a number of seconds")
                }
                if key == "gc_grace" { settings.gcGrace = s } else { settings.keepLocalAge = s }
            default:
                throw fail(
                    key, "unknown key '\(key)' in [store]; known: path, state, max_size, keep_local_age, gc_grace")
            }
        }
        return settings
    }

    /// Reads a commit-check key of `[sync]`; false when `key` is none of them.
    mutating func readCommitKey(_ key: String, _ value: TOMLValue, at position: String) throws -> Bool {
        switch key {
        case "allow_downgrade", "require_signed_commits":
            guard let b = value.boolValue else {
                throw SmartSyncError(.invalidArgument, "\(position): '\(key)' must be true or false")
            }
            if key == "allow_downgrade" { allowDowngrade = b } else { requireSignedCommits = b }
        case "allowed_signers":
            guard let path = value.stringValue, path.hasPrefix("/") else {
                throw SmartSyncError(
                    .invalidArgument, "\(position): 'allowed_signers' must be an absolute path in quotes")
            }
            allowedSigners = path
        default:
            return false
        }
        return true
    }

    /// The keys the top level of the config file may hold.
    static let topLevelKeys = ["target", "builtin", "defaults", "check", "store", "sync"]

    /// `90d`, `12h`, `30m`, `45s` or plain seconds.
    static func parseDuration(_ text: String) -> Int64? {
        var digits = text.trimmed(newlines: false)
        var unit: Int64 = 1
        if let last = digits.last, let u = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400][last] {
            unit = Int64(u)
            digits.removeLast()
        }
        guard let n = Int64(digits), n >= 0, n <= Int64.max / unit / 1_000_000_000 else { return nil }
        return n * unit
    }

}

/// An age option (`--grace 1h`): parsed with ``FileSettings/parseDuration(_:)``.
struct Age: ExpressibleByArgument {
    var seconds: Int64
    init?(argument: String) {
        guard let s = FileSettings.parseDuration(argument) else { return nil }
        seconds = s
    }
}

