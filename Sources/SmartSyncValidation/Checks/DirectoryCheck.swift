import Glibc
import SmartSyncPipeline

/// `kind = "directory"`: a directory exists, optionally with a mode. Fix: `mkdir -p`, `chmod`.
public struct DirectoryCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .directory }
    /// Relative to the target, or absolute (under the host root).
    public var path: String
    /// The exact permission bits, when set.
    public var mode: mode_t?

    public init(path: String, mode: mode_t? = nil, common: CheckCommon? = nil) {
        self.path = path
        self.mode = mode
        self.common = common ?? CheckCommon(id: "directory:\(path)", title: "directory \(path)")
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        let full = context.resolve(path)
        let path = self.path == "." ? full : self.path
        guard let st = FileInfo.following(full) else {
            return .fail("\(path) is missing; --fix creates it", fixable: true)
        }
        guard FileInfo.isDirectory(st) else {
            return .fail("\(path) is \(FileInfo.typeName(st)), not a directory; move it away and run --fix")
        }
        if let mode, st.st_mode & 0o7777 != mode {
            return .fail(
                "\(path) has mode \(FileInfo.octal(st.st_mode)), expected \(FileInfo.octal(mode)); --fix sets it",
                fixable: true)
        }
        return .pass("\(path) exists" + (mode.map { " (mode \(FileInfo.octal($0)))" } ?? ""))
    }

    public func fix(_ context: ValidationContext) throws -> FixOutcome {
        let full = context.resolve(path)
        let wanted = mode ?? 0o755
        if FileInfo.following(full) == nil {
            let (editor, relative) = context.editor(for: full)
            try editor.makeDirectory(relative, mode: wanted)
            return FixOutcome(actions: ["created \(full) (mode \(FileInfo.octal(wanted)))"])
        }
        return FixOutcome(actions: [try FileInfo.setMode(full, wanted, in: context)])
    }
}
