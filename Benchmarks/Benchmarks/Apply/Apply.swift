// Apply 10,000 files from the store: the store already holds the 10,000 blobs, the plan comes from the real
// planner against an empty target, and the measured operation is `InPlaceApplier.apply` into a fresh directory
// (hard links from the store, each object checked against its seal first, temp name + rename per file, directory
// fsyncs). A second benchmark times that check alone. Each iteration gets a new target;
// the previous one is removed outside the measured region. Peers: `cp -al` of an equal tree, and git writing the
// same 10,000 files from a packed repository (`git checkout`, `git archive | tar -x`), as whole commands.
// Target: <= 1 s.
import BenchSupport
import Benchmark
import Foundation
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline

let dirs = 100
let filesPerDir = 100
let fileCount = dirs * filesPerDir

struct StoreFixture {
    let root: String
    let store: ObjectStore
    let listing: TreeListing
    let plan: Plan
    /// A tree equal to the listing (made by one apply in setup), the source of the `cp -al` peer.
    let reference: String
    /// A packed git repository whose HEAD holds the same 10,000 files.
    let gitDir: String
}

nonisolated(unsafe) var fixture: StoreFixture?
nonisolated(unsafe) var serial = 0

/// A path for the next iteration's target that does not exist yet.
func freshTarget(_ fixture: StoreFixture) -> String {
    serial += 1
    return fixture.root + "/targets/t\(serial)"
}

func storeFixture() throws -> StoreFixture {
    if let fixture { return fixture }
    let root = try Fixtures.scratchDirectory("apply")
    let store = try ObjectStore(root: root + "/store")
    var entries: [TreeEntry] = []
    entries.reserveCapacity(fileCount)
    for d in 0..<dirs {
        for f in 0..<filesPerDir {
            let content = Fixtures.smallContent(dir: d, file: f)
            let id = try store.insert(content)
            entries.append(
                TreeEntry(path: TreePath(Fixtures.path(dir: d, file: f)), mode: .regular, id: id, size: content.count))
        }
    }
    // The planner does not verify listings, so no tree entries or real commit are needed.
    let listing = TreeListing(commit: ObjectID.emptyTree, rootTree: ObjectID.emptyTree, entries: entries)
    let plan = Planner().plan(listing: listing, previous: Manifest(), local: LocalTree())
    guard plan.count(.add) == fileCount, plan.blobsNeeded.count == fileCount else {
        throw FixtureError("unexpected plan: \(plan.counts)")
    }
    let reference = root + "/reference"
    let report = try InPlaceApplier().apply(plan, listing: listing, store: store, target: reference)
    guard report.filesLinked == fileCount else { throw FixtureError("reference apply: \(report)") }
    try FileManager.default.createDirectory(atPath: root + "/targets", withIntermediateDirectories: true)

    let gitDir = root + "/git"
    try Command.git(["init", "-q"], gitDir: gitDir, workTree: reference)
    try Command.git(["add", "-A"], gitDir: gitDir, workTree: reference)
    try Command.git(["commit", "-q", "-m", "fixture"], gitDir: gitDir, workTree: reference)
    try Command.git(["repack", "-adq"], gitDir: gitDir)  // packed, as after a clone
    try Command.git(["prune-packed"], gitDir: gitDir)
    let made = StoreFixture(root: root, store: store, listing: listing, plan: plan, reference: reference, gitDir: gitDir)
    fixture = made
    return made
}

func removeStoreFixture() {
    if let fixture { Fixtures.remove(fixture.root) }
    fixture = nil
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .syscalls], timeUnits: .milliseconds, warmupIterations: 1,
        maxDuration: .seconds(10), maxIterations: 15)

    Benchmark("apply 10k files from the store (InPlaceApplier, empty target)") {
        (benchmark: Benchmark, s: StoreFixture) throws in
        let target = freshTarget(s)
        benchmark.startMeasurement()
        let report = try InPlaceApplier().apply(s.plan, listing: s.listing, store: s.store, target: target)
        benchmark.stopMeasurement()
        precondition(report.filesLinked == fileCount, "not every file was hard-linked: \(report)")
        Fixtures.remove(target)
    } setup: {
        try storeFixture()
    }

    // The integrity check every link pays since the store seals its objects: one lstat per object (no hash).
    Benchmark("check 10k sealed store objects before linking (ObjectStore.condition)") {
        (benchmark: Benchmark, s: StoreFixture) throws in
        benchmark.startMeasurement()
        for e in s.listing.entries {
            let condition = try s.store.condition(of: e.id, size: e.size, repair: false)
            precondition(condition == .sealed)
        }
        benchmark.stopMeasurement()
    } setup: {
        try storeFixture()
    }

    Benchmark("peer: cp -al of an equal tree (no fsync)") { (benchmark: Benchmark, s: StoreFixture) throws in
        let target = freshTarget(s)
        benchmark.startMeasurement()
        try Command.run(["cp", "-al", s.reference, target])
        benchmark.stopMeasurement()
        Fixtures.remove(target)
    } setup: {
        try storeFixture()
    }

    Benchmark("peer: git checkout HEAD -- . into an empty work tree (packed repo)") {
        (benchmark: Benchmark, s: StoreFixture) throws in
        let target = freshTarget(s)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        let index = target + ".index"
        benchmark.startMeasurement()
        try Command.git(["checkout", "-q", "HEAD", "--", "."], gitDir: s.gitDir, workTree: target, indexFile: index)
        benchmark.stopMeasurement()
        Fixtures.remove(target)
        Fixtures.remove(index)
    } setup: {
        try storeFixture()
    }

    Benchmark("peer: git archive HEAD | tar -x (packed repo)") { (benchmark: Benchmark, s: StoreFixture) throws in
        let target = freshTarget(s)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        benchmark.startMeasurement()
        try Command.shell(
            "git archive HEAD | tar -x -C \"$T\"",
            environment: ["GIT_DIR": s.gitDir, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "T": target])
        benchmark.stopMeasurement()
        Fixtures.remove(target)
    } setup: {
        try storeFixture()
    } teardown: {
        removeStoreFixture()
    }
}
