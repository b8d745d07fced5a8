import SmartSyncCore
import SmartSyncFileSystem

/// What `smart-sync validate` checks: the target, shared defaults and the list of checks.
///
/// Read from the TOML config (`/etc/smart-sync/config.toml` or `--config FILE`):
/// ```toml
/// target = "/etc/hypervisor"        # resolved under --root
/// builtin = false                   # also run the built-in hypervisor checks (default: only when no [[check]])
/// [defaults]
/// min_free_mb = 1024
/// owner = "root"
/// group = "root"
/// [[check]]
/// kind = "directory"
/// path = "modules"
/// mode = "0755"
/// ```
/// Each `[[check]]` table is strict: an unknown `kind`, an unknown key or a missing required key is an error
/// naming the file and line. Other top-level tables (`[store]`, `[sync]`, `[target.NAME]`) are left to the rest of
/// smart-sync.
public struct ValidationConfig: Sendable {
    /// The file it came from, or nil for the built-in defaults.
    public var file: String?
    /// The target directory as configured (a host path, resolved under the root).
    public var target: String
    public var defaults: ValidationDefaults
    public var checks: [any Check]
    /// The file's own `[[check]]` entries, without the built-in ones (a target's `checks = "config"`).
    public var fileChecks: [any Check] = []

    public static let defaultTarget = "/etc/hypervisor"
    public static let defaultFile = "/etc/smart-sync/config.toml"

    public init(
        file: String? = nil, target: String = defaultTarget, defaults: ValidationDefaults = ValidationDefaults(),
        checks: [any Check] = BuiltinChecks.hypervisor()
    ) {
        self.file = file
        self.target = target
        self.defaults = defaults
        self.checks = checks
    }

    /// Reads a config file.
    public static func load(path: String) throws -> ValidationConfig {
        guard let (bytes, _) = try FileSystem.readFileIfPresent(path) else {
            throw SmartSyncError(.notFound, "the config file \(path) does not exist", hint: "check the --config path")
        }
        return try parse(String(decoding: bytes, as: UTF8.self), file: path)
    }

    /// Parses config text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws -> ValidationConfig {
        let document = try TOMLParser.parse(text, file: file)
        func fail(_ key: String, in table: TOMLTable, _ message: String) -> SmartSyncError {
            SmartSyncError(.invalidArgument, "\(file):\(table.position(of: key).line): \(message)")
        }
        var config = ValidationConfig(file: file)
        // A table is the list of targets ([target.NAME], read by the commands that sync); a string is this target.
        if let value = document["target"], value.tableValue == nil {
            guard let s = value.stringValue, s.hasPrefix("/") else {
                throw fail(
                    "target", in: document, "'target' must be an absolute path in quotes, such as \"/etc/hypervisor\"")
            }
            config.target = s
        }
        if let value = document["defaults"] {
            guard let table = value.tableValue else {
                throw fail("defaults", in: document, "'defaults' must be a table")
            }
            if let v = table["min_free_mb"] {
                guard let n = v.integerValue, n >= 0 else {
                    throw fail("min_free_mb", in: table, "'min_free_mb' must be a non-negative integer (MiB)")
                }
                config.defaults.minFreeMB = n
            }
            for key in ["owner", "group"] {
                guard let v = table[key] else { continue }
                guard let s = v.stringValue ?? v.integerValue.map({ String($0) }), !s.isEmpty else {
                    throw fail(key, in: table, "'\(key)' must be a name or a numeric id")
                }
                if key == "owner" { config.defaults.owner = s } else { config.defaults.group = s }
            }
        }
        var checks: [any Check] = []
        if let value = document["check"] {
            guard let array = value.arrayValue else {
                throw fail("check", in: document, "'check' must be an array of tables: write each as [[check]]")
            }
            for element in array {
                guard let table = element.tableValue else {
                    throw fail("check", in: document, "each 'check' must be a table: write each as [[check]]")
                }
                checks.append(try CheckFactory.make(table, file: file))
            }
        }
        var builtin = checks.isEmpty
        if let value = document["builtin"] {
            guard let b = value.boolValue else {
                throw fail("builtin", in: document, "'builtin' must be true or false")
            }
            builtin = b
        }
        config.fileChecks = checks
        config.checks = (builtin ? BuiltinChecks.hypervisor() : []) + checks
        var seen = Set<String>()
        for check in config.checks where !seen.insert(check.id).inserted {
            throw SmartSyncError(
                .invalidArgument,
                "\(file): two checks have the id '\(check.id)'", hint: "give one of them a different `id = \"...\"`")
        }
        return config
    }
}
