import Glibc

/// `kind = "tool"`: commands are on the `PATH`. Not fixable: install them (`environment.systemPackages`).
public struct ToolCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .tool }
    public var names: [String]

    public init(names: [String], common: CheckCommon? = nil) {
        self.names = names
        self.common = common ?? CheckCommon(id: "tool:\(names.joined(separator: ","))", title: "tools on PATH")
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        let missing = names.filter { context.findTool($0) == nil }
        guard missing.isEmpty else {
            return .fail(
                "not on PATH: \(missing.joined(separator: ", ")); install "
                    + "\(missing.count == 1 ? "it" : "them") (environment.systemPackages)",
                details: missing)
        }
        return .pass("on PATH: \(names.joined(separator: ", "))")
    }
}
