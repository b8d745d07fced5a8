import Logging
import SmartSyncGitObjects
import SmartSyncObjectStore

extension SyncRunner {
    /// Store objects a target file shared and that were written through it: never linked again. Only a scanned
    /// file whose id is not the previous manifest's is looked at, and there is none when the listing is that
    /// manifest as recorded (``verifiedListing(_:previous:excludes:hints:pins:)`` says so: the target's commit,
    /// nothing kept local, no exclude the run lacks), no intent was merged in (`listingIsPreviousManifest`: both), and
    /// the plan found every path unchanged (an unchanged file has the listing's id: hashed, or vouched for by the stat
    /// cache): the look-up, one per file, is skipped then. Anything else (an edit, an untracked or excluded path, a
    /// conflict) runs it.
    func editedThrough(
        _ tree: LocalTree, previous previousManifest: Manifest, plan: Plan, listingIsPreviousManifest: Bool
    ) -> [DamagedObject] {
        let nothingButUnchanged = plan.counts.allSatisfy { kind, n in kind == .unchanged || n == 0 }
        if listingIsPreviousManifest && nothingButUnchanged {
            logger.debug("edited-through look-up skipped: the listing is the manifest, every path unchanged")
            return []
        }
        return store.objectsEditedThrough(tree, previous: previousManifest)
    }
}
