import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@Suite("--limit-rate: one byte budget shared by all transfers", .serialized)
struct TransferEngineLimitRateTests {
    static let mebibyte = 1 << 20

    /// nginx serving `count` files of `size` pseudo-random bytes as `/f0.bin`, `/f1.bin`, ...
    func serve(count: Int, size: Int) throws -> (NginxServer, [[UInt8]]) {
        let server = try NginxServer()
        var files: [[UInt8]] = []
        for index in 0..<count {
            let bytes = pseudoRandomBytes(size, seed: UInt64(index + 1))
            try Data(bytes).write(to: URL(fileURLWithPath: server.root + "/f\(index).bin"))
            files.append(bytes)
        }
        return (server, files)
    }

    func engine(_ server: NginxServer, http2: Bool, limitRate: Int?, jobs: Int = 16) throws -> TransferEngine {
        var configuration = TransferConfiguration()
        configuration.extraCAFile = server.certificatePath
        configuration.maxConcurrent = jobs
        configuration.maxPerHost = jobs
        configuration.http2 = http2
        configuration.limitRate = limitRate
        return try TransferEngine(configuration: configuration)
    }

    /// 16 concurrent downloads of 512 KiB at 1 MiB/s in all: about 8 s of transfer.
    @Test(arguments: [true, false])
    func sixteenTransfersShareTheBudget(http2: Bool) async throws {
        try requireNginx()
        let limit = Self.mebibyte
        let (server, files) = try serve(count: 16, size: 512 << 10)
        defer { server.stop() }
        let engine = try engine(server, http2: http2, limitRate: limit)
        defer { engine.shutdown() }
        let sinks = files.map { ProgressSink(expected: $0.count) }
        let total = files.reduce(0) { $0 + $1.count }

        let versions = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, sink) in sinks.enumerated() {
                let url = server.baseURL + "/f\(index).bin"
                group.addTask {
                    let response = try await engine.perform(TransferRequest(url: url, sink: .stream(sink)))
                    #expect(response.status == 200)
                    return response.httpVersion
                }
            }
            return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
        }

        #expect(versions == [http2 ? 2 : 1])
        for (index, sink) in sinks.enumerated() {
            #expect(sameBytes(sink.bytes, files[index]), "file \(index) arrived damaged")
        }
        // Timed on the engine thread, from the first byte written to the last: the test task's own wake-ups can be
        // delayed by other tests blocking the cooperative pool, the engine's cannot.
        let timelines = sinks.map(\.timeline)
        let first = try #require(timelines.compactMap(\.first).min { $0.time < $1.time })
        let last = try #require(timelines.compactMap(\.last?.time).max())
        let elapsed = last - first.time
        let rate = Double(total - first.bytes) / elapsed
        print("limit-rate http\(http2 ? 2 : 1): \(total) bytes in \(elapsed) s = \(rate / Double(limit)) x limit")
        // Never faster than the budget (5 % for the initial burst and timer granularity). The lower bound is looser:
        // a loaded CI machine can only make the transfer slower, never faster.
        #expect(rate <= 1.05 * Double(limit), "rate \(rate) B/s exceeds the limit \(limit) B/s")
        #expect(rate >= 0.85 * Double(limit), "rate \(rate) B/s is far below the limit \(limit) B/s")
        // No starvation: halfway through, every transfer has had a real share (a fair share is half its file).
        let midpoint = first.time + elapsed / 2
        let atMidpoint = sinks.map { $0.bytes(at: midpoint) }
        let floor = (512 << 10) / 8
        #expect(
            atMidpoint.allSatisfy { $0 >= floor },
            "transfers starved at the midpoint: \(atMidpoint.map { $0 >> 10 }) KiB")
    }

    /// A budget far above what the link carries changes nothing: all bytes arrive intact.
    @Test(arguments: [true, false])
    func limitAboveTheLinkChangesNothing(http2: Bool) async throws {
        try requireNginx()
        let (server, files) = try serve(count: 16, size: Self.mebibyte)
        defer { server.stop() }
        let engine = try engine(server, http2: http2, limitRate: 1 << 40)
        defer { engine.shutdown() }
        let sinks = files.map { ProgressSink(expected: $0.count) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, sink) in sinks.enumerated() {
                let url = server.baseURL + "/f\(index).bin"
                group.addTask {
                    let response = try await engine.perform(TransferRequest(url: url, sink: .stream(sink)))
                    #expect(response.status == 200)
                    #expect(response.bytesReceived == Self.mebibyte)
                }
            }
            try await group.waitForAll()
        }
        for (index, sink) in sinks.enumerated() { #expect(sameBytes(sink.bytes, files[index]), "file \(index)") }
        #expect(engine.statistics.bytesReceived == 16 * Self.mebibyte)
    }

    /// In-memory bodies and the rate limit together: paused transfers resume into the same buffer.
    @Test func memoryBodiesArePacedToo() async throws {
        try requireNginx()
        let (server, files) = try serve(count: 4, size: 96 << 10)
        defer { server.stop() }
        let engine = try engine(server, http2: true, limitRate: 256 << 10)
        defer { engine.shutdown() }
        let start = Date()
        let bodies = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in files.indices {
                let url = server.baseURL + "/f\(index).bin"
                group.addTask { (index, try await engine.perform(TransferRequest(url: url)).body) }
            }
            return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
        }
        for index in files.indices { #expect(sameBytes(bodies[index] ?? [], files[index]), "file \(index)") }
        // 384 KiB at 256 KiB/s, less the initial burst: well over a second.
        #expect(secondsSince(start) >= 1.0)
    }

    @Test func nonsenseLimitIsRejected() {
        var configuration = TransferConfiguration()
        configuration.limitRate = 0
        #expect(throws: SmartSyncError.self) { try TransferEngine(configuration: configuration) }
    }
}
