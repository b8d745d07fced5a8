import Glibc
import SmartSyncCore
import Testing

/// `SmartSyncError.io` reports the `errno` of the failed call, not one a later call set.
@Suite struct SmartSyncErrorTests {
    /// Stands in for a path built for the message (joined, allocated, a display form) by calls that set `errno`.
    private func path(settingErrno value: Int32) -> String {
        errno = value
        return "/target/" + "file"
    }

    @Test func theErrnoIsReadBeforeThePathIsMade() {
        errno = ENOSPC
        let error = SmartSyncError.io("write", path: path(settingErrno: EBADF))
        #expect(error.message.contains("write failed for '/target/file'"), "\(error.message)")
        #expect(error.message.contains(String(cString: strerror(ENOSPC))), "\(error.message)")
        #expect(error.message.contains(SmartSyncError.diskFullHint(ENOSPC) ?? "-"), "\(error.message)")
        #expect((error.cause as? SystemCallError)?.errno == ENOSPC)
    }

    /// A hint built for the message (interpolated, allocated) comes after the `errno` too: a default argument is
    /// evaluated after the explicit ones, so a plain `String` hint was built before `errno` was read.
    @Test func theErrnoIsReadBeforeTheHintIsMade() {
        errno = ENOSPC
        let error = SmartSyncError.io("mkdir", path: "/target", hint: path(settingErrno: EBADF))
        #expect(error.message.contains(String(cString: strerror(ENOSPC))), "\(error.message)")
        #expect(error.message.contains(SmartSyncError.diskFullHint(ENOSPC) ?? "-"), "\(error.message)")
        #expect((error.cause as? SystemCallError)?.errno == ENOSPC)
    }
}
