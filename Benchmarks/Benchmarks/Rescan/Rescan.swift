// Warm re-scan: a 10,000-file target (100 dirs x 100 files) whose stat cache is up to date. The measured operation
// is what a no-op sync does before planning: load the stat cache from the state directory and scan the target with
// it, hashing nothing. Peer: git's own stat-only check of the same tree (its index fresh), as a whole command.
// Target: <= 50 ms.
import BenchSupport
import Benchmark
import Foundation
import Glibc
import SmartSyncGitObjects
import SmartSyncPipeline

let dirs = 100
let filesPerDir = 100
let fileCount = dirs * filesPerDir

/// A target tree with a saved, non-racy stat cache, plus a git repository (separate git dir) over the same tree.
struct WarmTree {
    let root: String
    let target: String
    let state: StateStore
    let gitDir: String
}

nonisolated(unsafe) var fixture: WarmTree?

/// 1,000 ids' worth of bytes for the ObjectID decoding diagnosis.
let idBytes: [UInt8] = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }

/// Built once per process and shared by the benchmarks of this suite.
func warmTree() throws -> WarmTree {
    if let fixture { return fixture }
    let root = try Fixtures.scratchDirectory("rescan")
    let target = root + "/target"
    try Fixtures.writeSmallTree(at: target, dirs: dirs, files: filesPerDir)
    // Racy-git: entries whose mtime or ctime is not strictly older than the cache file are re-hashed. Backdate
    // mtimes, then wait past the file system's timestamp tick so the ctimes (now) are older than the cache write.
    try Fixtures.backdateFiles(under: target, secondsAgo: 3600)
    usleep(100_000)
    let state = try StateStore(root: root + "/state")
    var cache = try TargetScanner().scan(target: target).cache
    try state.saveStatCache(&cache, target: target)
    // Check the premise of the benchmark once: everything comes from the cache.
    let check = try TargetScanner().scan(target: target, cache: try state.loadStatCache(target: target))
    guard check.statistics.filesHashed == 0, check.statistics.cacheHits == fileCount else {
        throw FixtureError("warm scan premise failed: \(check.statistics)")
    }
    // The peer: the same tree as a git work tree (git dir outside it, so both scan exactly the same entries).
    let gitDir = root + "/git"
    try Command.git(["init", "-q"], gitDir: gitDir, workTree: target)
    try Command.git(["add", "-A"], gitDir: gitDir, workTree: target)
    try Command.git(["commit", "-q", "-m", "fixture"], gitDir: gitDir, workTree: target)
    // Refresh once so no entry is racily clean: later runs are pure stat comparisons, as ours are.
    try Command.git(["update-index", "-q", "--refresh"], gitDir: gitDir, workTree: target)
    try Command.git(["status", "--porcelain"], gitDir: gitDir, workTree: target)
    let made = WarmTree(root: root, target: target, state: state, gitDir: gitDir)
    fixture = made
    return made
}

func removeWarmTree() {
    if let fixture { Fixtures.remove(fixture.root) }
    fixture = nil
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .syscalls], timeUnits: .milliseconds, warmupIterations: 3,
        maxDuration: .seconds(4), maxIterations: 200)

    Benchmark("warm re-scan 10k files: load stat cache + scan") { (benchmark: Benchmark, tree: WarmTree) throws in
        let cache = try tree.state.loadStatCache(target: tree.target)
        let result = try TargetScanner().scan(target: tree.target, cache: cache)
        precondition(result.statistics.filesHashed == 0 && result.statistics.cacheHits == fileCount, "a file was re-hashed")
        blackHole(result)
    } setup: {
        try warmTree()
    }

    Benchmark("part: StatCache load 10k entries") { (benchmark: Benchmark, tree: WarmTree) throws in
        blackHole(try tree.state.loadStatCache(target: tree.target))
    } setup: {
        try warmTree()
    }

    Benchmark("part: scan 10k files with a loaded cache") { (benchmark: Benchmark, tree: WarmTree) throws in
        let cache = try tree.state.loadStatCache(target: tree.target)
        benchmark.startMeasurement()
        let result = try TargetScanner().scan(target: tree.target, cache: cache)
        benchmark.stopMeasurement()
        precondition(result.statistics.filesHashed == 0, "a file was re-hashed")
        blackHole(result)
    } setup: {
        try warmTree()
    }

    // Diagnosis of the cache load: the loader builds each id with the generic `ObjectID(bytes:)` from an
    // ArraySlice (BinaryCoding.swift `readID`), which is not specialized across the module boundary.
    Benchmark("part: 10k ObjectID(bytes:) from ArraySlice<UInt8> (as the cache loader does)") { benchmark in
        benchmark.startMeasurement()
        for i in 0..<fileCount {
            let start = (i % 1000) * 20
            blackHole(ObjectID(bytes: idBytes[start..<(start + 20)]))
        }
    }

    Benchmark("peer: git status --porcelain (10k files, includes process start)") {
        (benchmark: Benchmark, tree: WarmTree) throws in
        try Command.git(["status", "--porcelain"], gitDir: tree.gitDir, workTree: tree.target)
    } setup: {
        try warmTree()
    }

    Benchmark("peer: git diff-files --quiet (10k files, includes process start)") {
        (benchmark: Benchmark, tree: WarmTree) throws in
        try Command.git(["diff-files", "--quiet"], gitDir: tree.gitDir, workTree: tree.target)
    } setup: {
        try warmTree()
    }

    Benchmark("peer: process start (git --version)") { (benchmark: Benchmark, tree: WarmTree) throws in
        try Command.git(["--version"], gitDir: tree.gitDir)
    } setup: {
        try warmTree()
    } teardown: {
        removeWarmTree()
    }
}
