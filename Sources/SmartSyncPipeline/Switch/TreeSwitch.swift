import CLinuxShims
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncObjectStore

/// Swaps a tree into place and keeps the outgoing one as a generation; finishes or undoes a swap a killed run
/// left half done.
struct TreeSwitch {
    let layout: SwitchLayout
    var generations: GenerationStore { GenerationStore(layout: layout) }

    /// Why a directory exchange cannot be used here (the caller then applies in place).
    struct ExchangeUnsupported: Error {
        var errno: Int32
    }

    /// A step after the exchange failed: the target holds the incoming tree.
    struct AfterExchange: Error {
        var step: AfterSwitchStep
        var cause: any Error
    }

    /// Exchanges `incoming` with the target; the outgoing tree becomes generation `sequence` with `state`.
    /// `untracked`: `incoming` is the tree found before the first sync (its journal says so, for the recovery).
    /// `pending`: kept-version records `exchanged` appends, written in the journal for a recovery to append should the
    /// run die before (``SwitchJournal/pending``); their versions must be durable in the store already.
    ///
    /// `exchanged` runs as soon as the target holds the incoming tree, before the outgoing one is filed: the caller
    /// records the new state there. When it throws, the journal stays, so the next run's ``recover()`` finishes
    /// the switch (and ``StateStore/recoverSwitch(target:)`` records the tree from the intent).
    ///
    /// - Throws: ``ExchangeUnsupported`` (nothing changed) when the file system refuses the exchange;
    ///   ``AfterExchange`` when a step after it failed (the switch stands).
    func exchange(
        incoming: String, sequence: Int, outgoingState: TargetState?, outgoingStateFile: String? = nil, consumed: Int?,
        untracked: Bool = false, pending: [KeptVersion] = [], checkpoint: (String) throws -> Void,
        exchanged: () throws -> Void = {}
    ) throws {
        guard let inode = TreeOps.inode(incoming) else { throw SmartSyncError.io("lstat", path: incoming) }
        let tree = try generations.prepare(sequence, state: outgoingState, file: outgoingStateFile)
        let journal = SwitchJournal(
            sequence: sequence, incoming: incoming, incomingInode: inode, consumed: consumed,
            untracked: untracked ? true : nil, pending: pending)
        try journal.write(to: layout.journal)
        try checkpoint("before-exchange")
        if ss_renameat2(AT_FDCWD, incoming, AT_FDCWD, layout.target, ss_rename_exchange) != 0 {
            let err = errno
            unlink(layout.journal)
            try? generations.remove(sequence)
            // EBUSY: the target is a mount point (the applier checks before staging; a mount made since lands here).
            if Self.refusesExchange(err) { throw ExchangeUnsupported(errno: err) }
            throw SmartSyncError.io("renameat2(RENAME_EXCHANGE)", path: layout.target, errno: err)
        }
        FileSystem.syncDirectory(parent(of: layout.target))
        do {
            try checkpoint("after-exchange")
            try exchanged()
        } catch {
            throw AfterExchange(step: .record, cause: error)
        }
        do {
            try checkpoint("recorded")
            try finish(journal, tree: tree)
        } catch {
            throw AfterExchange(step: .fileOutgoing, cause: error)
        }
    }

    /// Whether `err`, from `renameat2(RENAME_EXCHANGE)`, says the file system (or kernel) cannot exchange at all.
    static func refusesExchange(_ err: Int32) -> Bool {
        [EINVAL, ENOSYS, ENOTSUP, EOPNOTSUPP, EXDEV, EBUSY].contains(err)
    }

    /// Whether `renameat2(RENAME_EXCHANGE)` works beside the target: two directories made in a stage (which the
    /// next run's ``recover()`` removes, should a kill leave it) are exchanged, and the stage removed. For a cold
    /// sync, which needs no exchange itself, to tell whether a spare tree could ever be used. True when it cannot
    /// tell (the directories cannot be made): as before. `checkpoint` is called with `probe-exchange` before the
    /// exchange; an ``ExchangeUnsupported`` it throws stands for the file system's refusal (tests).
    func exchangeWorks(checkpoint: (String) throws -> Void) -> Bool {
        let (a, b) = (layout.stage + "/a", layout.stage + "/b")
        guard mkdir(layout.stage, 0o700) == 0 else { return true }
        defer { try? TreeOps.removeTree(layout.stage) }
        guard mkdir(a, 0o700) == 0, mkdir(b, 0o700) == 0 else { return true }
        do { try checkpoint("probe-exchange") } catch is ExchangeUnsupported { return false } catch {}
        return ss_renameat2(AT_FDCWD, a, AT_FDCWD, b, ss_rename_exchange) == 0 || !Self.refusesExchange(errno)
    }

    /// Completes or undoes an exchange recorded in the journal; removes a stage a killed run left. Safe to call
    /// when nothing is pending. Returns true when it completed an exchange that had happened (the target holds the
    /// tree that run swapped in).
    @discardableResult
    func recover() throws -> Bool { try recoverExchange() != nil }

    /// ``recover()``, returning the journal of the exchange it completed (nil when none had happened).
    ///
    /// `record` runs when the exchange had happened, before the journal goes (as `exchanged` in `exchange(…)`): the
    /// caller records the target's state (and the journal's pending records) there. When it throws, the journal stays
    /// for the next recovery, so it must be safe to run twice.
    func recoverExchange(record: (SwitchJournal) throws -> Void = { _ in }) throws -> SwitchJournal? {
        try layout.checkSidecar()
        var completed: SwitchJournal?
        if let journal = try SwitchJournal.load(from: layout.journal, sidecar: layout.sidecar) {
            if TreeOps.inode(layout.target) == journal.incomingInode {
                // The exchange happened: the outgoing tree waits at `incoming`. The record before the journal goes.
                try record(journal)
                try finish(journal, tree: layout.generation(journal.sequence) + "/tree")
                completed = journal
            } else {
                unlink(layout.journal)
                try generations.remove(journal.sequence)
            }
        }
        try TreeOps.removeTree(layout.stage)
        return completed
    }

    private func finish(_ journal: SwitchJournal, tree: String) throws {
        if TreeOps.isDirectory(journal.incoming) && !TreeOps.isDirectory(tree) {
            guard rename(journal.incoming, tree) == 0 else { throw SmartSyncError.io("rename", path: tree) }
        }
        if let consumed = journal.consumed { try generations.remove(consumed) }
        FileSystem.syncDirectory(layout.generations)
        if unlink(layout.journal) != 0 && errno != ENOENT { throw SmartSyncError.io("unlink", path: layout.journal) }
        FileSystem.syncDirectory(layout.sidecar)
    }

    private func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
