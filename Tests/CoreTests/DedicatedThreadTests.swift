import Glibc
import Testing

@testable import SmartSyncCore

/// `DedicatedThread`: every entry point names its thread (as the kernel shows it: `/proc/thread-self/comm`), by one
/// convention; `startIfPossible` runs nothing, and says so, when no thread can be had, where `start` traps.
@Suite("DedicatedThread")
struct DedicatedThreadTests {
    /// The calling thread's name as the kernel holds it.
    static func threadName() -> String {
        guard let bytes = try? readWholeFile("/proc/thread-self/comm") else { return "(unreadable)" }
        return String(decoding: bytes, as: UTF8.self).trimmed()
    }

    @Test func runNamesItsThread() async throws {
        #expect(try await DedicatedThread.run(name: "ss-test-run") { Self.threadName() } == "ss-test-run")
        #expect(try await DedicatedThread.run(name: "ss-test-cancel") { _ in Self.threadName() } == "ss-test-cancel")
        #expect(Self.threadName() != "ss-test-run", "the caller's thread keeps its own name")
    }

    @Test func startIfPossibleNamesItsThread() async {
        let name = await withCheckedContinuation { (c: CheckedContinuation<String, Never>) in
            let started = DedicatedThread.startIfPossible(name: "ss-test-start") {
                c.resume(returning: Self.threadName())
            }
            if !started { c.resume(returning: "(not started)") }
        }
        #expect(name == "ss-test-start")
    }

    /// `ss-`, lowercase words joined by hyphens, 15 bytes at most: the names the product gives pass, the two older
    /// forms do not.
    @Test func theNamingConvention() {
        for name in ["ss-curl", "ss-pack-import", "ss-scan", "ss-free-tables", "ss-publish-copy", "ss-cat-file-in"] {
            #expect(DedicatedThread.isConventional(name), "\(name)")
        }
        for name in [
            "ss pack import", "smart-sync.curl", "ss-publish-copies", "ss-Scan", "curl", "ss-é", "ss-", "ss--x",
            "ss-x-", "ss", "-ss-x",
        ] {
            #expect(!DedicatedThread.isConventional(name), "\(name)")
        }
    }

    /// With no thread to be had (every new thread's stack made larger than the address space, in a child process),
    /// `startIfPossible` answers false, runs nothing and releases the work on the calling thread; `start` traps.
    /// Only where the C library has `pthread_setattr_default_np` (glibc): without it the children could only exit
    /// 90 (``forbidNewThreads()``), which says nothing of `DedicatedThread`.
    @Test(.enabled(if: dlsym(dlopen(nil, RTLD_NOW), "pthread_setattr_default_np") != nil))
    func whenNoThreadCanStart() async {
        await #expect(processExitsWith: .exitCode(0)) {
            let released = Locked(false)
            let ran = Locked(false)
            DedicatedThreadTests.forbidNewThreads()
            var token: ReleaseToken? = ReleaseToken(released)
            let started = DedicatedThread.startIfPossible(name: "ss-test-none") { [token] in
                withExtendedLifetime(token) { ran.withLock { $0 = true } }
            }
            token = nil
            _exit(started ? 1 : ran.withLock { $0 } ? 2 : released.withLock { $0 } ? 0 : 3)
        }
        // The trap itself (`fatalError`: ud2 on x86_64, brk on arm64), not the helper's own exits (90, 91).
        await #expect(processExitsWith: Self.trap) {
            DedicatedThreadTests.forbidNewThreads()
            DedicatedThread.start(name: "ss-test-trap") {}
            _exit(0)
        }
    }

    /// How a Swift trap ends a process on this architecture.
    #if arch(x86_64)
        static let trap = ExitTest.Condition.signal(SIGILL)
    #else
        static let trap = ExitTest.Condition.signal(SIGTRAP)
    #endif

    /// Makes every later `pthread_create` without attributes ask for a stack no mapping can hold (glibc's
    /// `pthread_setattr_default_np`, which the Glibc module does not expose): it then fails with `EAGAIN`, as on a
    /// system out of threads or memory. For a child process only.
    static func forbidNewThreads() {
        typealias SetDefault = @convention(c) (UnsafePointer<pthread_attr_t>) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "pthread_setattr_default_np") else { _exit(90) }
        let attributes = UnsafeMutablePointer<pthread_attr_t>.allocate(capacity: 1)  // (a child's: never freed)
        guard pthread_attr_init(attributes) == 0, pthread_attr_setstacksize(attributes, 1 << 60) == 0,
            unsafeBitCast(symbol, to: SetDefault.self)(attributes) == 0
        else { _exit(91) }
    }
}

/// Sets its flag when it is freed.
private final class ReleaseToken: Sendable {
    let released: Locked<Bool>
    init(_ released: Locked<Bool>) { self.released = released }
    deinit { released.withLock { $0 = true } }
}
