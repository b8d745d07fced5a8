import CLinuxShims

/// How the process's large heap blocks are given back to the system (glibc's `malloc`).
///
/// glibc serves a block below its mmap threshold from the heap, where a freed block stays resident until the memory
/// around it is free too; the threshold starts at 128 KiB but rises to the size of each mapped block freed (up to
/// 32 MiB). A sync of a large tree builds and drops tables of every path one after another (the listing, the scan,
/// the stat caches, the plan, the recycled stage's tables: 2-20 MB each at 100,000 files), so after the first such
/// table is freed every later one came from the heap, and the holes they left kept the peak resident set ~20 MiB
/// above the most that was ever in use at once.
public enum LargeAllocations {
    /// Blocks this large or larger get a mapping of their own, unmapped when freed. Above the 256 KiB buffers that
    /// files are read and copied through (``readChunks(fd:path:_:)``), so those stay on the heap and cost no
    /// `mmap` each.
    public static let threshold = 1 << 20

    /// Fixes glibc's mmap threshold at ``threshold``. Call once, first thing in `main`; process-wide. True when
    /// glibc took it.
    @discardableResult
    public static func returnToSystemWhenFreed() -> Bool {
        ss_set_mmap_threshold(Int32(threshold)) == 1
    }

    /// Gives the system back the free pages between the blocks still in use (glibc's `malloc_trim(0)`): what a phase
    /// freed in small blocks (a table's paths) stays resident otherwise, until the same arena reuses it.
    public static func releaseFreedPages() {
        ss_malloc_trim()
    }
}
