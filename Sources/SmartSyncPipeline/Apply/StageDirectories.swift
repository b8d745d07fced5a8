import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Gives a stage's directories their final metadata before anything is made in them, so that what is made there
/// inherits what it would have in place: a setgid directory's group (and, to a directory, the bit), a default ACL
/// (to a directory as its default and access ACL, to a copied or reflinked file as its access ACL). A directory the
/// target has gets the target's metadata; one the target lacks is made as a new directory (``DirectoryMetadata``).
///
/// The target is read by directory descriptor with `O_NOFOLLOW` (``DirectoryCursor``): a symlink where the stage has
/// a directory counts as no directory there (it is never followed; a commit may turn a symlink into a directory), as
/// do a missing path and a file. Any other failure to open the target's directory (`EACCES`, `EIO`, …) fails the run
/// naming the path: taking it for "no directory" would give the stage's directory a new directory's metadata in place
/// of the operator's, unseen.
final class StageDirectories {
    /// The live target's directories, whose metadata the stage's take.
    private let cursor: DirectoryCursor?

    init(target: String) throws {
        cursor = try DirectoryCursor(existing: target)
    }

    /// Copies the metadata of the target's directory `components` onto the directory open on `fd`; false (nothing
    /// written) when the target has no directory there.
    func copyFromTarget(_ components: ArraySlice<TreePath>, to fd: Int32, display: @autoclosure () -> String) throws
        -> Bool
    {
        guard let cursor else { return false }
        do {
            guard try cursor.enter(components, create: false, blockedIsMissing: true) else { return false }  // missing
        } catch let error as SmartSyncError where Self.meansNoDirectory(error) {
            return false
        }
        try DirectoryMetadata.copy(from: cursor.currentFD, to: fd, display: display())
        try keepWritable(fd, display: display())
        return true
    }

    /// Whether a failure to enter the target's directory says only that there is none: a symlink stands there
    /// (``DirectoryCursor`` refuses it, unfollowed) or a file does (`ENOTDIR`). Anything else is an error of its own.
    private static func meansNoDirectory(_ error: SmartSyncError) -> Bool {
        error.code == .unsafePath || (error.cause as? SystemCallError)?.errno == ENOTDIR
    }

    /// Lets a user other than root make entries in a directory whose mode (the target's) does not let its owner write
    /// or search it: the carrier sets the exact mode once the stage is made. Root needs neither bit.
    private func keepWritable(_ fd: Int32, display: @autoclosure () -> String) throws {
        guard Seal.owner != 0 else { return }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let err = errno
            throw SmartSyncError.io("fstat", path: display(), errno: err)
        }
        if st.st_mode & 0o300 != 0o300 {
            guard fchmod(fd, (st.st_mode & 0o7777) | 0o300) == 0 else {
                let err = errno
                throw SmartSyncError.io("fchmod", path: display(), errno: err)
            }
        }
    }

    /// A directory just made in the stage (``DirectoryCursor/created``): the target's metadata when the target has it;
    /// else it stays as it was made, a new directory's.
    func created(_ components: [TreePath], _ fd: Int32, display: @autoclosure () -> String) throws {
        _ = try copyFromTarget(components[...], to: fd, display: display())
    }

    /// A directory the stage kept from another time (a recycled tree's): the target's metadata, or a new directory's
    /// where the target has none (made in its parent, which must be settled already).
    func settleKept(_ components: ArraySlice<TreePath>, _ fd: Int32, display: String) throws {
        if try copyFromTarget(components, to: fd, display: display) { return }
        try DirectoryMetadata.reset(fd, display: display)
    }
}
