import CLinuxShims
import Glibc
import SmartSyncCore

/// Where the tree cannot be swapped in and goes in place instead: a target that is a mount point, and the refusal to
/// apply in place, unchecked, where checks are set.
extension StagedSwitchApplier {
    /// Why `target` must be applied in place rather than exchanged, as the apply will decide it: it is not a
    /// directory (a symlink: an exchange would replace the link, not the tree), or it is a mount point
    /// (``mountedTarget(_:layout:)``). Nil when it can be exchanged, or does not exist yet.
    enum InPlaceTarget {
        case notADirectory
        case mounted(notice: String)

        /// For the refusal: "'target' \(why), so it can only be applied in place".
        var why: String {
            switch self {
            case .notADirectory: "is not a directory (a symlink?)"
            case .mounted: "is a mount point (not on the mount of its parent)"
            }
        }
    }

    /// ``InPlaceTarget`` for `target`, looked at with `lstat` (a symlink is not followed).
    func inPlaceTarget(_ target: String) -> InPlaceTarget? {
        var st = stat()
        guard lstat(target, &st) == 0 else { return nil }
        return inPlaceTarget(target, lstat: st)
    }

    /// ``InPlaceTarget`` for `target`, whose `lstat` is `st`.
    func inPlaceTarget(_ target: String, lstat st: stat) -> InPlaceTarget? {
        if (st.st_mode & S_IFMT) != S_IFDIR { return .notADirectory }
        return mountedTarget(st, layout: SwitchLayout(target: target)).map { .mounted(notice: $0) }
    }

    /// Throws when checks are set (``validateStage``) and `target` must be applied in place (``inPlaceTarget(_:)``).
    /// The runner asks before it changes anything (before local versions are kept and the intent is written), the
    /// apply again (a mount made since): with no checks set, such a target is applied in place, as `sync` does.
    func refuseUncheckedInPlace(target: String) throws {
        guard validateStage != nil, let reason = inPlaceTarget(target) else { return }
        try refuseUncheckedInPlace(target: target, reason)
    }

    /// The refusal a run with checks on the stage (`update`'s) would meet for `target` as it is now (a symlink, a
    /// mount point: ``refuseUncheckedInPlace(target:)``), or nil: for `update --check-only`, which makes no stage.
    public static func uncheckedInPlaceRefusal(target: String) -> SmartSyncError? {
        var checked = StagedSwitchApplier()
        checked.validateStage = { _ in }
        do {
            try checked.refuseUncheckedInPlace(target: target)
            return nil
        } catch {
            return error as? SmartSyncError
        }
    }

    /// Throws, before anything changes, when checks are set (``validateStage``) and `target` must be applied in place
    /// (`reason`): there is no stage to check, and a tree that fails its checks must never reach the target.
    func refuseUncheckedInPlace(target: String, _ reason: InPlaceTarget) throws {
        guard validateStage != nil else { return }
        throw SmartSyncError(
            .refused,
            "'\(target)' \(reason.why), so it can only be applied in place, file by file, with no stage to check "
                + "before the switch; refusing to apply it unchecked",
            hint: "apply it with `smart-sync sync` (no checks before the switch), or make the target a plain directory "
                + "on its parent's file system")
    }

    /// Why the target (a directory, `target` its `lstat`) cannot be exchanged, when it is a mount point (a tmpfs, a
    /// bind mount, a dataset of its own): on another file system, or another mount, than the directory beside it that
    /// holds the sidecar. A rename of a mount point fails with EBUSY, and the stage, in the sidecar, could not take the
    /// carried files' hard links (EXDEV: `linkat` never crosses mounts, even of one file system). Nil when target and
    /// sidecar (or, before the first switch, the parent that will hold it) share a mount; where the kernel reports no
    /// mount id (before Linux 5.8) the file system (`st_dev`) alone decides.
    func mountedTarget(_ target: stat, layout: SwitchLayout) -> String? {
        var beside = stat()
        let besidePath = lstat(layout.sidecar, &beside) == 0 ? layout.sidecar : parent(of: layout.target)
        guard besidePath == layout.sidecar || stat(besidePath, &beside) == 0 else { return nil }
        var targetMount: UInt64 = 0
        var besideMount: UInt64 = 0
        let otherMount =
            ss_mount_id(AT_FDCWD, layout.target, &targetMount) == 0
            && ss_mount_id(AT_FDCWD, besidePath, &besideMount) == 0 && targetMount != besideMount
        guard beside.st_dev != target.st_dev || otherMount else { return nil }
        return "'\(layout.target)' is a mount point (not on the mount of the directory holding it), which a staged "
            + "switch cannot swap: applied in place, file by file (no atomic switch, no generation kept)"
    }
}
