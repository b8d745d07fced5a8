import Glibc
import TestSupport
import Testing

extension LoopFileSystem {
    /// ``make(_:megabytes:options:)`` for a test: nil (the test returns) where mounting cannot work (not root: a note
    /// is printed); as root (CI) a file system that cannot be made is a recorded issue, and nil.
    static func forTest(_ kind: Kind, megabytes: Int = 320, options: [String] = []) throws -> LoopFileSystem? {
        switch try make(kind, megabytes: megabytes, options: options) {
        case .success(let made): return made
        case .failure(let why):
            if geteuid() == 0 {
                Issue.record("no \(kind) here: \(why)")
            } else {
                print("skipped on this machine: \(why)")
            }
            return nil
        }
    }
}
