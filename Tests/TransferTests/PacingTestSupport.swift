import Foundation
import SmartSyncTransfer
import Synchronization

/// Deterministic incompressible-looking bytes (xorshift64*), fast enough for megabytes in a debug build.
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = (seed &* 0x9E37_79B9_7F4A_7C15) | 1
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        var word = state &* 2_685_821_657_736_338_717
        for _ in 0..<8 where index < count {
            bytes[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            index += 1
        }
    }
    return bytes
}

/// A sink that keeps the body and counts bytes as they arrive, readable from other threads while the transfer
/// runs (test double, lock-protected).
final class ProgressSink: TransferSink, Sendable {
    private struct State {
        var storage: [UInt8] = []
        /// (uptime, bytes so far) after each write, taken on the engine thread: timings measured from it do not
        /// depend on when the awaiting test task gets a thread again (blocking tests running in parallel can starve
        /// the cooperative pool for seconds).
        var history: [(time: Double, bytes: Int)] = []
    }
    private let state: Mutex<State>

    init(expected: Int = 0) {
        var state = State()
        state.storage.reserveCapacity(expected)
        self.state = Mutex(state)
    }

    func begin(status: Int, headers: HTTPHeaders) -> Bool { true }

    func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        let now = ProcessInfo.processInfo.systemUptime
        state.withLock {
            $0.storage.append(contentsOf: chunk)
            $0.history.append((now, $0.storage.count))
        }
        return true
    }

    var timeline: [(time: Double, bytes: Int)] { state.withLock { $0.history } }

    /// Bytes received by `time` (uptime seconds).
    func bytes(at time: Double) -> Int {
        timeline.last { $0.time <= time }?.bytes ?? 0
    }

    var count: Int { state.withLock { $0.storage.count } }

    var bytes: [UInt8] { state.withLock { $0.storage } }
}

/// Seconds since `start`.
func secondsSince(_ start: Date) -> Double { Date().timeIntervalSince(start) }

/// Byte equality without handing megabytes to `#expect`'s failure description.
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool { a == b }
