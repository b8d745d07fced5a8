import Foundation

/// Finds the built `smart-sync` executable for end-to-end tests and benchmarks.
public enum SmartSyncBinary {
    /// The package root, derived from this file's location (`<root>/Tests/TestSupport/SmartSyncBinary.swift`).
    public static let packageRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()

    /// The executable's path: `$SMART_SYNC_BIN`, else the one beside the running test executable (built with it),
    /// else `<root>/.build/debug/smart-sync`, else the newest
    /// `<root>/.build/*/debug/smart-sync` (or `release`). Throws when none exists (build it first: `swift build`).
    public static func path() throws -> String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["SMART_SYNC_BIN"], !env.isEmpty {
            guard fm.isExecutableFile(atPath: env) else {
                throw TestSupportError(description: "SMART_SYNC_BIN=\(env) is not an executable file")
            }
            return env
        }
        // The binary built with these tests sits beside the test runner: a release build made since (or another
        // configuration's) must not be what the tests run.
        if let runner = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let beside = (runner as NSString).deletingLastPathComponent + "/smart-sync"
            if fm.isExecutableFile(atPath: beside) { return beside }
        }
        var candidates = [packageRoot + "/.build/debug/smart-sync"]
        let build = packageRoot + "/.build"
        for triple in ((try? fm.contentsOfDirectory(atPath: build)) ?? []).sorted() {
            candidates.append("\(build)/\(triple)/debug/smart-sync")
            candidates.append("\(build)/\(triple)/release/smart-sync")
        }
        candidates.append(packageRoot + "/.build/release/smart-sync")
        let found = candidates.filter { fm.isExecutableFile(atPath: $0) }
        let newest = found.max { modified($0) < modified($1) }
        guard let newest else {
            throw TestSupportError(
                description: "smart-sync binary not found (looked in \(build)); run `swift build` or set SMART_SYNC_BIN"
            )
        }
        return newest
    }

    /// Runs the binary with `arguments` (see ``ProcessRunner/run(_:_:environment:currentDirectory:input:check:)``).
    @discardableResult
    public static func run(
        _ arguments: [String], environment: [String: String?] = [:], currentDirectory: String? = nil,
        check: Bool = true
    ) throws -> ProcessResult {
        try ProcessRunner.run(
            try path(), arguments, environment: environment, currentDirectory: currentDirectory, check: check)
    }

    private static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }
}
