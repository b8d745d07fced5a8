import SmartSyncGitObjects

extension [UInt8] {
    /// Sets the buffer to the bytes of `prefix/name` (`name` at the root): a walk's path before it is built, to be
    /// looked up (``PathTable/Cursor/seekIndex(bytes:)``) or matched, and built only when needed.
    ///
    /// The buffer is resized to the path's length (not at all when it has it already: the names of a directory often
    /// share one), then written in place: no emptying and three appends per path, each a call through the array's
    /// growth checks (~1.5 % of a no-op's instructions at 20,000 files).
    mutating func setPath(_ prefix: TreePath, _ name: UnsafeBufferPointer<UInt8>) {
        prefix.withBytes { p in
            let start = p.isEmpty ? 0 : p.count + 1
            let length = start + name.count
            if count < length {
                append(contentsOf: repeatElement(0, count: length - count))
            } else if count > length {
                removeLast(count - length)
            }
            withUnsafeMutableBufferPointer { path in
                if !p.isEmpty {
                    UnsafeMutableRawBufferPointer(path).copyMemory(from: UnsafeRawBufferPointer(p))
                    path[p.count] = 0x2F
                }
                UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(path)[start...])
                    .copyMemory(from: UnsafeRawBufferPointer(name))
            }
        }
    }

    /// ``setPath(_:_:)`` with a name held as a path.
    mutating func setPath(_ prefix: TreePath, _ name: TreePath) {
        name.withBytes { setPath(prefix, $0) }
    }
}
