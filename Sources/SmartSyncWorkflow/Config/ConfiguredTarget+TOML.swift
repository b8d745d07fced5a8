import SmartSyncCore
import SmartSyncFetch
import SmartSyncPipeline
import SmartSyncValidation

extension ConfiguredTarget {
    /// The `[target.NAME]` tables of a parsed config file, sorted by name; none when the file has no `target`
    /// table (or has `validate`'s older top-level `target = "/dir"` string, which is not a target list).
    ///
    /// Strict: an unknown key, a value of the wrong kind, a relative path, both or neither of `repo` and `source`
    /// are errors naming `file:line` and the key.
    public static func parseAll(_ document: TOMLTable, file: String) throws -> [ConfiguredTarget] {
        guard let value = document["target"], value.stringValue == nil else { return [] }
        guard let tables = value.tableValue else {
            throw SmartSyncError(
                .invalidArgument,
                "\(file):\(document.position(of: "target").line): 'target' must be a table of "
                    + "targets, written [target.NAME]")
        }
        return try tables.keys.sorted().map { name in
            let line = tables.position(of: name).line
            guard let table = tables[name]?.tableValue else {
                throw SmartSyncError(
                    .invalidArgument, "\(file):\(line): 'target.\(name)' must be a table, written [target.\(name)]")
            }
            return try parse(table, name: name, file: file)
        }
    }

    /// One `[target.NAME]` table.
    public static func parse(_ table: TOMLTable, name: String, file: String) throws -> ConfiguredTarget {
        let header = table.position.line
        guard isValidName(name) else {
            throw SmartSyncError(
                .invalidArgument,
                "\(file):\(header): the target name '\(name)' cannot be used: a name has no '/', spaces or control "
                    + "characters and does not start with '-' or '.'",
                hint: "an OWNER/REPO argument is always a repository, so a target's name must not look like one")
        }
        func fail(_ key: String, _ message: String) -> SmartSyncError {
            SmartSyncError(.invalidArgument, "\(file):\(table.position(of: key).line): [target.\(name)] \(message)")
        }
        func string(_ key: String, _ what: String) throws -> String? {
            guard let v = table[key] else { return nil }
            guard let s = v.stringValue, !s.isEmpty else { throw fail(key, "'\(key)' must be \(what)") }
            return s
        }
        func absolute(_ key: String) throws -> String? {
            guard let s = try string(key, "an absolute path in quotes") else { return nil }
            guard s.hasPrefix("/") else {
                throw fail(key, "'\(key)' must be an absolute path (got \"\(s)\")")
            }
            return s
        }
        func url(_ key: String) throws -> String? {
            guard let s = try string(key, "a URL in quotes") else { return nil }
            guard s.hasPrefix("https://") || s.hasPrefix("http://") else {
                throw fail(key, "'\(key)' must be an http:// or https:// URL (got \"\(s)\")")
            }
            return s
        }
        func strings(_ key: String, _ what: String) throws -> [String] {
            guard let v = table[key] else { return [] }
            guard let array = v.arrayValue else { throw fail(key, "'\(key)' must be an array of \(what)") }
            return try array.map {
                guard let s = $0.stringValue, !s.isEmpty else {
                    throw fail(key, "'\(key)' must be an array of \(what)")
                }
                return s
            }
        }
        func enumeration<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws -> T?
        where T.RawValue == String {
            let names = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            guard let s = try string(key, "one of \(names)") else { return nil }
            guard let value = T(rawValue: s) else { throw fail(key, "'\(key)' must be one of \(names) (got \"\(s)\")") }
            return value
        }

        for key in table.keys where !keys.contains(key) {
            throw fail(key, "unknown key '\(key)'; known: \(keys.joined(separator: ", "))")
        }
        guard let path = try absolute("path") else {
            throw SmartSyncError(
                .invalidArgument, "\(file):\(header): [target.\(name)] has no 'path': the directory to keep in sync",
                hint: "add path = \"/etc/\(name)\" (an absolute path)")
        }
        var target = ConfiguredTarget(name: name, file: file, line: header, path: path)
        target.repository = try string("repo", "a GitHub repository written \"owner/name\"")
        if let repo = target.repository {
            let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty }) else {
                throw fail("repo", "'repo' must be a GitHub repository written \"owner/name\" (got \"\(repo)\")")
            }
        }
        target.source = try absolute("source")
        switch (target.repository, target.source) {
        case (.some, .some):
            throw fail("source", "has both 'repo' and 'source': give one (a GitHub "
                + "repository or a local git repository)")
        case (nil, nil):
            throw SmartSyncError(
                .invalidArgument, "\(file):\(header): [target.\(name)] has neither 'repo' nor 'source'",
                hint: "add repo = \"owner/name\" (GitHub) or source = \"/srv/git/\(name)\" (a local git repository)")
        default: break
        }
        target.ref = try string("ref", "a branch, tag, ref name or commit SHA in quotes")
        target.transport = try enumeration("transport", TransportMode.self)
        target.linkMode = try enumeration("link_mode", LinkMode.self)
        target.excludes = try strings("exclude", "globs in quotes")
        if let v = table["keep_generations"] {
            guard let n = v.integerValue, (0...100).contains(n) else {
                throw fail("keep_generations", "'keep_generations' must be an integer from 0 to 100")
            }
            target.keepGenerations = Int(n)
        }
        target.tokenFile = try absolute("token_file")
        target.apiURL = try url("api_url")
        target.rawURL = try url("raw_url")
        target.gitURL = try url("git_url")
        target.rebuild = try string("rebuild", "a command in quotes")
        if let v = table["skip_rebuild"] {
            guard let b = v.boolValue else { throw fail("skip_rebuild", "'skip_rebuild' must be true or false") }
            target.skipRebuild = b
        }
        target.metricsFile = try absolute("metrics_file")
        target.mirrors = try strings("mirrors", "URLs in quotes")
        for mirror in target.mirrors where !(mirror.hasPrefix("https://") || mirror.hasPrefix("http://")) {
            throw fail("mirrors", "'mirrors' must hold http:// or https:// URLs (got \"\(mirror)\")")
        }
        target.trustedKey = try absolute("trusted_key")
        target.checks = try enumeration("checks", Checks.self)
        if let v = table["splay"] {
            var seconds = v.integerValue.map { Splay(seconds: Double($0)) }
            if case .float(let f) = v, f.isFinite { seconds = Splay(seconds: f) }
            guard let splay = v.stringValue.flatMap(Splay.init(parsing:)) ?? seconds,
                (0...Splay.maximum).contains(splay.seconds)
            else {
                throw fail(
                    "splay", "'splay' must be a duration such as \"30s\", \"5m\" or a number of seconds, at most a day")
            }
            guard target.source == nil else {
                throw fail("splay", "'splay' has no use with 'source': a local repository is read without the network")
            }
            target.splay = splay
        }
        for key in ["allow_downgrade", "require_signed_commits"] {
            guard let v = table[key] else { continue }
            guard let b = v.boolValue else { throw fail(key, "'\(key)' must be true or false") }
            if key == "allow_downgrade" { target.allowDowngrade = b } else { target.requireSignedCommits = b }
        }
        target.allowedSigners = try absolute("allowed_signers")
        return target
    }
}
