import FoundationEssentials
import SmartSyncCore
import SmartSyncFetch

/// `kind = "flake"`: `flake.nix` parses and `flake.lock` is a valid lock file.
///
/// `flake.nix` is parsed with `nix-instantiate --parse` when it is on the `PATH` (not with `--quick`), else
/// checked structurally (``NixStructure``: balanced delimiters and strings, closed comments, a top-level
/// `outputs`). `flake.lock` must be JSON with an integer `version`, an object `nodes` of objects, and a `root`
/// naming one of the nodes. Fix: restore either file from the store when the last sync put it there.
public struct FlakeCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .flake }
    public var flake: String
    public var lock: String
    /// When false, a missing `flake.lock` is a warning rather than a failure.
    public var requireLock: Bool

    public init(
        flake: String = "flake.nix", lock: String = "flake.lock", requireLock: Bool = false,
        common: CheckCommon? = nil
    ) {
        self.flake = flake
        self.lock = lock
        self.requireLock = requireLock
        self.common = common ?? CheckCommon(id: "flake", title: "flake.nix and flake.lock")
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        var problems: [String] = []
        var notes: [String] = []
        var damaged: [String] = []
        let flakePath = context.resolve(flake)
        if let text = try FileInfo.readText(flakePath) {
            if !context.quick, let nix = context.findTool("nix-instantiate") {
                let (status, errors) = try Self.runParse(nix, flakePath)
                if status == 0 {
                    notes.append("\(flake) parses (nix-instantiate)")
                } else {
                    problems.append("\(flake) does not parse: \(errors)")
                    damaged.append(flake)
                }
            } else {
                let (finding, hasOutputs) = NixStructure.check(text)
                let how = context.quick ? "structural check, --quick" : "structural check; nix-instantiate not on PATH"
                if let finding {
                    problems.append("\(flake):\(finding.line):\(finding.column): \(finding.message)")
                    damaged.append(flake)
                } else if !hasOutputs {
                    problems.append("\(flake) has no top-level 'outputs' attribute")
                    damaged.append(flake)
                } else {
                    notes.append("\(flake) is well-formed (\(how))")
                }
            }
        } else {
            problems.append("\(flake) is missing")
            damaged.append(flake)
        }
        var lockMissing = false
        if let bytes = try FileInfo.readText(context.resolve(lock)) {
            switch FlakeLock.validate(Data(bytes.utf8)) {
            case .success(let summary): notes.append("\(lock): \(summary)")
            case .failure(let reason):
                problems.append("\(lock) \(reason)")
                damaged.append(lock)
            }
        } else {
            lockMissing = true
            damaged.append(lock)
        }
        let restorer = damaged.isEmpty ? nil : try StoreRestorer(context)
        let restorable = damaged.compactMap { p in restorer?.relative(p).flatMap { restorer!.canRestore($0) ? p : nil }
        }
        let fixHint =
            restorable.isEmpty ? "" : "; --fix restores \(restorable.joined(separator: " and ")) from the store"
        if !problems.isEmpty {
            if lockMissing { problems.append("\(lock) is missing") }
            return .fail(problems.joined(separator: "; ") + fixHint, fixable: !restorable.isEmpty)
        }
        if lockMissing {
            let message = "\(notes.joined(separator: "; ")); \(lock) is missing (run `nix flake lock`)" + fixHint
            return requireLock
                ? .fail(message, fixable: !restorable.isEmpty) : .warn(message, fixable: !restorable.isEmpty)
        }
        return .pass(notes.joined(separator: "; "))
    }

    public func fix(_ context: ValidationContext) throws -> FixOutcome {
        guard let restorer = try StoreRestorer(context) else { return .failed("the target has no sync state") }
        let actions = try restorer.locked {
            try [flake, lock].compactMap { p -> String? in
                guard let rel = restorer.relative(p), restorer.canRestore(rel) else { return nil }
                return try restorer.restore(rel)
            }
        }
        return FixOutcome(actions: actions)
    }

    /// Runs `nix-instantiate --parse FILE`; returns its status and the first lines of its error output.
    static func runParse(_ tool: String, _ file: String) throws -> (Int32, String) {
        // Nix needs no GitHub token to parse a file: none reaches it.
        let r = try ProcessRunner(tool, ["--parse", file], environment: ChildEnvironment.inheritedWithoutTokens)
            .runAndWait(output: .discard, error: .captured)
        let text = r.stderrString.split(separator: "\n").prefix(3)
            .joined(separator: " ").trimmed(newlines: false)
        return (r.status, text.isEmpty ? "exit status \(r.status)" : text)
    }
}

/// Structural validation of `flake.lock`.
enum FlakeLock {
    private struct Lock: Decodable {
        var version: Integer
        var nodes: [String: Node]
        var root: String
    }

    /// A JSON integer: not a boolean, not a fraction.
    private struct Integer: Decodable {
        var value: Int
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if (try? c.decode(Bool.self)) == nil, let i = try? c.decode(Int.self) {
                value = i
                return
            }
            throw DecodingError.typeMismatch(
                Int.self, DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "not an integer"))
        }
    }

    /// Any JSON object (a node's content is not checked further).
    private struct Node: Decodable {
        init(from decoder: any Decoder) throws {
            _ = try decoder.container(keyedBy: AnyKey.self)
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A summary ("version 7, 2 nodes") or why the lock is invalid.
    static func validate(_ data: Data) -> Result<String, Reason> {
        guard (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue != nil else {
            return .failure(Reason("is not a JSON object; restore it or run `nix flake lock`"))
        }
        let lock: Lock
        do {
            lock = try JSONDecoder().decode(Lock.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            return .failure(Reason("has no '\(key.stringValue)'; restore it or run `nix flake lock`"))
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            let expected = path == "version" ? "an integer" : path == "root" ? "a string" : "an object"
            return .failure(Reason("has a '\(path)' that is not \(expected)"))
        } catch {
            return .failure(Reason("is not a valid lock file: \(error)"))
        }
        guard lock.nodes[lock.root] != nil else {
            return .failure(Reason("names root '\(lock.root)', which is not among its nodes"))
        }
        return .success("version \(lock.version.value), \(lock.nodes.count) node\(lock.nodes.count == 1 ? "" : "s")")
    }

    struct Reason: Error, CustomStringConvertible {
        var description: String
        init(_ text: String) { description = text }
    }
}
