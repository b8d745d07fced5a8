// Blob hashing throughput: git's blob SHA-1 (`BlobHasher`, OpenSSL EVP underneath) over an in-memory buffer and a
// file in the page cache, next to the raw OpenSSL SHA-1 it is built on (the ceiling) and `git hash-object`.
// Target: >= 1.5 GB/s. tools/bench-core turns the medians into GB/s and adds `openssl speed -evp sha1`.
// Also a cold scan (no stat cache) of 1 GiB in 64 files, which hashes on every core (`ParallelHasher`), next to the
// same files hashed one after another: target, close to the number of cores times the single stream.
import BenchSupport
import Benchmark
import Glibc
import SmartSyncGitObjects
import SmartSyncPipeline

let memoryBytes = 64 << 20  // 64 MiB
let fileBytes = 256 << 20  // 256 MiB
let chunkBytes = 256 << 10  // 256 KiB, the chunk the scanner and hashFile use

/// The shared 64 MiB buffer (allocated once, never freed: the process ends with the suite).
nonisolated(unsafe) let memoryBuffer = UnsafeRawBufferPointer(Fixtures.randomBytes(memoryBytes))

func chunks(_ body: (UnsafeRawBufferPointer) -> Void) {
    var offset = 0
    while offset < memoryBuffer.count {
        let end = min(offset + chunkBytes, memoryBuffer.count)
        body(UnsafeRawBufferPointer(rebasing: memoryBuffer[offset..<end]))
        offset = end
    }
}

struct BigFile {
    let directory: String
    var path: String { directory + "/blob-256MiB" }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal], timeUnits: .milliseconds, warmupIterations: 2,
        maxDuration: .seconds(4), maxIterations: 40)

    Benchmark("BlobHasher 64 MiB in 256 KiB chunks") { benchmark in
        let hasher = BlobHasher(size: memoryBytes)
        chunks { hasher.update($0) }
        blackHole(hasher.finalize()!)
    }

    Benchmark("peer: SHA1Hasher (raw OpenSSL EVP SHA-1) 64 MiB in 256 KiB chunks") { benchmark in
        let sha = SHA1Hasher()
        chunks { sha.update($0) }
        blackHole(sha.finalize())
    }

    Benchmark(
        "BlobHasher.hashFile 256 MiB (page cache)",
        configuration: .init(maxDuration: .seconds(6), maxIterations: 25)
    ) { (benchmark: Benchmark, file: BigFile) throws in
        let (id, size) = try BlobHasher.hashFile(atPath: file.path)
        precondition(size == fileBytes)
        blackHole(id)
    } setup: {
        try makeBigFile()
    } teardown: {
        removeBigFiles()
    }

    // What-if for hashFile: the same BlobHasher fed from read(2) into a 64 KiB buffer (stays in L1/L2 between the
    // kernel's copy and the hash) instead of hashFile's 256 KiB. Not product code: a measured candidate fix.
    Benchmark(
        "experiment: read(2) 64 KiB chunks + BlobHasher, 256 MiB (page cache)",
        configuration: .init(maxDuration: .seconds(6), maxIterations: 25)
    ) { (benchmark: Benchmark, file: BigFile) throws in
        blackHole(try hashWithReads(file.path, chunk: 64 << 10))
    } setup: {
        try makeBigFile()
    } teardown: {
        removeBigFiles()
    }

    Benchmark(
        "cold scan 1 GiB in 64 files (TargetScanner, no stat cache, page cache)",
        configuration: .init(maxDuration: .seconds(10), maxIterations: 15)
    ) { (benchmark: Benchmark, tree: ColdTree) throws in
        let result = try TargetScanner().scan(target: tree.directory)
        precondition(result.statistics.filesHashed == coldFiles, "\(result.statistics)")
        blackHole(result)
    } setup: {
        try makeColdTree()
    }

    Benchmark(
        "peer: the same 64 files hashed one after another (BlobHasher.hashFile)",
        configuration: .init(maxDuration: .seconds(10), maxIterations: 15)
    ) { (benchmark: Benchmark, tree: ColdTree) throws in
        for i in 0..<coldFiles { blackHole(try BlobHasher.hashFile(atPath: tree.directory + "/f\(i)")) }
    } setup: {
        try makeColdTree()
    } teardown: {
        removeBigFiles()
    }

    Benchmark(
        "peer: git hash-object 256 MiB (page cache, includes process start)",
        configuration: .init(maxDuration: .seconds(6), maxIterations: 25)
    ) { (benchmark: Benchmark, file: BigFile) throws in
        try Command.run(["git", "hash-object", file.path])
    } setup: {
        try makeBigFile()
    } teardown: {
        removeBigFiles()
    }
}

nonisolated(unsafe) var bigFileDirectories: [String] = []

let coldFiles = 64

struct ColdTree {
    let directory: String
}

nonisolated(unsafe) var coldTree: ColdTree?

/// 64 files of 16 MiB (slices of the random pattern), hashed once so they sit in the page cache. Built once per
/// process; removed with the big files.
func makeColdTree() throws -> ColdTree {
    if let coldTree { return coldTree }
    let tree = ColdTree(directory: try Fixtures.scratchDirectory("cold"))
    bigFileDirectories.append(tree.directory)
    let size = 16 << 20
    for i in 0..<coldFiles {
        let path = tree.directory + "/f\(i)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FixtureError("create \(path): errno \(errno)") }
        defer { close(fd) }
        let start = (i * size) % memoryBuffer.count
        var off = 0
        while off < size {
            let n = write(fd, memoryBuffer.baseAddress! + start + off, size - off)
            guard n > 0 else { throw FixtureError("write \(path): errno \(errno)") }
            off += n
        }
        _ = try BlobHasher.hashFile(atPath: path)
    }
    coldTree = tree
    return tree
}

/// Writes the 256 MiB file (the 64 MiB random pattern four times: SHA-1's cost does not depend on the content)
/// and hashes it once so it sits in the page cache.
func makeBigFile() throws -> BigFile {
    let file = BigFile(directory: try Fixtures.scratchDirectory("hash"))
    bigFileDirectories.append(file.directory)
    let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FixtureError("create \(file.path): errno \(errno)") }
    defer { close(fd) }
    for _ in 0..<(fileBytes / memoryBytes) {
        var off = 0
        while off < memoryBuffer.count {
            let n = write(fd, memoryBuffer.baseAddress! + off, memoryBuffer.count - off)
            guard n > 0 else { throw FixtureError("write \(file.path): errno \(errno)") }
            off += n
        }
    }
    _ = try BlobHasher.hashFile(atPath: file.path)  // warm the page cache
    return file
}

func removeBigFiles() {
    for d in bigFileDirectories { Fixtures.remove(d) }
    bigFileDirectories.removeAll()
    coldTree = nil
}

/// BlobHasher fed by read(2) with a given buffer size (the what-if above).
func hashWithReads(_ path: String, chunk: Int) throws -> ObjectID {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FixtureError("open \(path): errno \(errno)") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FixtureError("fstat \(path): errno \(errno)") }
    let hasher = BlobHasher(size: Int(st.st_size))
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
    defer { buffer.deallocate() }
    while true {
        let n = read(fd, buffer.baseAddress, chunk)
        if n < 0 { throw FixtureError("read \(path): errno \(errno)") }
        if n == 0 { break }
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }
    return hasher.finalize()!
}
