import Glibc
import SmartSyncCore
import Testing

@Suite("large allocations")
struct LargeAllocationsTests {
    /// glibc takes the fixed threshold (`smart-sync`'s `main` sets it), and a block above it is given back to the
    /// system as soon as it is freed, even after a larger block was freed first (which, left to itself, glibc takes as
    /// its new threshold, serving the next blocks up to that size from the heap, where they stay resident).
    @Test func aFreedBlockAboveTheThresholdLeavesTheResidentSet() throws {
        #expect(LargeAllocations.returnToSystemWhenFreed())
        free(malloc(16 << 20))  // would raise glibc's own threshold to 16 MiB
        let size = 8 << 20
        let before = try residentBytes()
        let block = try #require(malloc(size))
        memset(block, 1, size)  // touched: resident
        let touched = try residentBytes()
        free(block)
        let after = try residentBytes()
        #expect(touched - before >= size / 2, "the block was never resident: \(touched - before) bytes")
        #expect(touched - after >= size / 2, "the freed block stayed resident: \(touched - after) of \(size) bytes")
    }

    /// The free pages between blocks in use go back too: 16 MiB in small blocks, freed below a block still in use (so
    /// not at the heap's top, which glibc trims by itself), leave the resident set once released.
    @Test func freedSmallBlocksBelowOneInUseLeaveTheResidentSetWhenReleased() throws {
        let count = 64 << 10
        var blocks: [UnsafeMutableRawPointer] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count {  // 256 B each, far below the threshold: from the heap
            let block = try #require(malloc(256))
            memset(block, 1, 256)
            blocks.append(block)
        }
        let pin = try #require(malloc(256))
        defer { free(pin) }
        for block in blocks { free(block) }
        let freed = try residentBytes()
        LargeAllocations.releaseFreedPages()
        let after = try residentBytes()
        #expect(freed - after >= 8 << 20, "released \(freed - after) of 16 MiB freed")
    }

    /// The resident set of this process, from `/proc/self/statm` (its second field, in pages).
    private func residentBytes() throws -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buffer, buffer.count)
        try #require(n > 0)
        let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ")
        let pages = try #require(fields.count > 1 ? Int(fields[1]) : nil)
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
