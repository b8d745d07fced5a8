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

    /// An exchange made ready
    /// (``prepare(incoming:sequence:outgoingState:outgoingStateFile:consumed:untracked:pending:durable:)``): the
    /// outgoing generation's directory and state, and the journal, written.
    struct Prepared {
        var journal: SwitchJournal
        /// Where the outgoing tree goes (`generations/<sequence>/tree`).
        var tree: String
        /// Whether the journal was fsynced as it was written (asked for, or longer than ``unsyncedJournalLimit``).
        var journalDurable: Bool
    }

    /// The longest journal written unsynced (bytes): one that fits a 4 KiB page, which writeback sends in one I/O
    /// (with room to spare; not the file system block, which mke2fs makes 1 KiB on file systems under 512 MB), comes
    /// back from a power cut whole, empty, or (ext4 `data=writeback`, `nodelalloc`) its full size in NULs, which
    /// ``SwitchJournal/isUnwritten(_:)`` tells from a written one. A longer one (a long target path) could come back
    /// with its first page only: it is fsynced as it is written.
    static let unsyncedJournalLimit = 3 * 1024

    /// Exchanges `incoming` with the target; the outgoing tree becomes generation `sequence` with `state`.
    /// `untracked`: `incoming` is the tree found before the first sync (its journal says so, for the recovery).
    /// `pending`: kept-version records `exchanged` appends, written in the journal for a recovery to append should the
    /// run die before (``SwitchJournal/pending``); their versions must be durable in the store already.
    ///
    /// `exchanged` runs as soon as the target holds the incoming tree, before the outgoing one is filed: the caller
    /// records the new state there. When it throws, the journal stays, so the next run's ``recover(record:)`` finishes
    /// the switch (and ``StateStore/recoverSwitch(target:store:looks:warn:)`` records the tree from the intent).
    ///
    /// - Throws: ``ExchangeUnsupported`` (nothing changed) when the file system refuses the exchange;
    ///   ``AfterExchange`` when a step after it failed (the switch stands).
    func exchange(
        incoming: String, sequence: Int, outgoingState: TargetState?, outgoingStateFile: String? = nil, consumed: Int?,
        untracked: Bool = false, pending: [KeptVersion] = [], checkpoint: (String) throws -> Void,
        exchanged: () throws -> Void = {}
    ) throws {
        let prepared = try prepare(
            incoming: incoming, sequence: sequence, outgoingState: outgoingState, outgoingStateFile: outgoingStateFile,
            consumed: consumed, untracked: untracked, pending: pending, durable: true)
        try exchange(prepared, checkpoint: checkpoint, exchanged: exchanged)
    }

    /// Writes what an exchange of `incoming` with the target needs first: the outgoing generation's directory with
    /// its state, then the journal. With `durable` false nothing is fsynced: the caller makes them durable before
    /// ``exchange(_:checkpoint:exchanged:)`` with one `syncfs` of the sidecar's file system (the stage's: the staged
    /// switch prepares before its stage's sync, which then covers both). Until the exchange, a kill or a failure
    /// leaves a journal whose inode the target does not have: ``recover(record:)`` (or ``abandon(_:)``) removes it and
    /// the generation, as before any exchange.
    func prepare(
        incoming: String, sequence: Int, outgoingState: TargetState?, outgoingStateFile: String? = nil, consumed: Int?,
        untracked: Bool = false, pending: [KeptVersion] = [], durable: Bool
    ) throws -> Prepared {
        guard let inode = TreeOps.inode(incoming) else { throw SmartSyncError.io("lstat", path: incoming) }
        let tree = try generations.prepare(sequence, state: outgoingState, file: outgoingStateFile, durable: durable)
        let journal = SwitchJournal(
            sequence: sequence, incoming: incoming, incomingInode: inode, consumed: consumed,
            untracked: untracked ? true : nil, pending: pending)
        let journalDurable: Bool
        do {
            let bytes = try journal.encodedRecord(payload: journal.payload)
            // Pending records (a rollback's) are always written durably: their versions' only record until the
            // exchange stands, and a payload must not depend on one block's survival.
            journalDurable = durable || !pending.isEmpty || bytes.count > Self.unsyncedJournalLimit
            try FileSystem.writeFileAtomically(layout.journal, bytes, durable: journalDurable)
        } catch {
            try? generations.remove(sequence)
            throw error
        }
        return Prepared(journal: journal, tree: tree, journalDurable: journalDurable)
    }

    /// After the caller's `syncfs` of the sidecar's file system, fsyncs the journal a non-durable
    /// ``prepare(incoming:sequence:outgoingState:outgoingStateFile:consumed:untracked:pending:durable:)``
    /// wrote, checking its error: `syncfs` can miss a write-back error (the file system's error sequence is sampled
    /// per open file, and another process's `syncfs` may have reported it already), while this fsync of the journal's
    /// own file reports an error in writing its pages that no one has seen. Cheap: its bytes were written back by that
    /// `syncfs`. On a failure the caller undoes the prepare (``abandon(_:)``), as for a failure of the sync itself: an
    /// exchange with a journal that may not survive a power cut would be read afterwards as one that did not happen.
    func confirmJournal(_ prepared: Prepared) throws {
        guard !prepared.journalDurable else { return }
        try FileSystem.syncFile(layout.journal)
    }

    /// Undoes a
    /// ``prepare(incoming:sequence:outgoingState:outgoingStateFile:consumed:untracked:pending:durable:)``
    /// whose exchange will not happen: the journal, then the generation (as ``recover(record:)`` would).
    func abandon(_ prepared: Prepared) {
        unlink(layout.journal)
        try? generations.remove(prepared.journal.sequence)
    }

    /// Exchanges the prepared `incoming` with the target (its journal durable by now), as
    /// ``exchange(incoming:sequence:outgoingState:outgoingStateFile:consumed:untracked:pending:checkpoint:exchanged:)``
    func exchange(_ prepared: Prepared, checkpoint: (String) throws -> Void, exchanged: () throws -> Void = {}) throws {
        let journal = prepared.journal
        do {
            try checkpoint("before-exchange")
        } catch {
            // A thrown checkpoint stands for a failure (or a refusal, in tests) before the exchange: undone as one.
            if error is ExchangeUnsupported { abandon(prepared) }
            throw error
        }
        if ss_renameat2(AT_FDCWD, journal.incoming, AT_FDCWD, layout.target, ss_rename_exchange) != 0 {
            let err = errno
            abandon(prepared)
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
            try finish(journal, tree: prepared.tree)
        } catch {
            throw AfterExchange(step: .fileOutgoing, cause: error)
        }
    }

    /// Whether `err`, from `renameat2(RENAME_EXCHANGE)`, says the file system (or kernel) cannot exchange at all.
    static func refusesExchange(_ err: Int32) -> Bool {
        [EINVAL, ENOSYS, ENOTSUP, EOPNOTSUPP, EXDEV, EBUSY].contains(err)
    }

    /// Whether `renameat2(RENAME_EXCHANGE)` works beside the target: two directories made in a stage (which the
    /// next run's ``recover(record:)`` removes, should a kill leave it) are exchanged, and the stage removed. For a
    /// cold sync, which needs no exchange itself, to tell whether a spare tree could ever be used. True when it cannot
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
    /// when nothing is pending. The journal is read as ``SwitchJournal/load(layout:)`` reads it (regular files
    /// only): an unwritten one is removed as no journal (its half-made generation, which has no tree, is left to the
    /// prune); anything else at its path stops the recovery, naming it.
    ///
    /// `record` runs when the exchange had happened, before the journal goes (as `exchanged` in `exchange(…)`): the
    /// caller records the target's state (and the journal's pending records) there
    /// (``StateStore/recoverSwitch(target:store:looks:warn:)``, which every run under the target lock calls). When it
    /// throws, the journal stays for the next recovery, so it must be safe to run twice.
    func recover(record: (SwitchJournal) throws -> Void = { _ in }) throws {
        try layout.checkSidecar()
        if let journal = try SwitchJournal.load(layout: layout) {
            if TreeOps.inode(layout.target) == journal.incomingInode {
                // The exchange happened: the outgoing tree waits at `incoming`. The record before the journal goes.
                try record(journal)
                try finish(journal, tree: layout.generation(journal.sequence) + "/tree")
            } else {
                try removeJournal()
                try generations.remove(journal.sequence)
            }
        } else {
            try removeJournal()  // none, or an unwritten one
        }
        try TreeOps.removeTree(layout.stage)
    }

    private func finish(_ journal: SwitchJournal, tree: String) throws {
        if TreeOps.isDirectory(journal.incoming) && !TreeOps.isDirectory(tree) {
            guard rename(journal.incoming, tree) == 0 else { throw SmartSyncError.io("rename", path: tree) }
        }
        if let consumed = journal.consumed { try generations.remove(consumed) }
        FileSystem.syncDirectory(layout.generations)
        try removeJournal()
        FileSystem.syncDirectory(layout.sidecar)
    }

    /// Removes the journal; one already gone is fine. A journal that stays (EACCES, EIO, EROFS) is an error: the next
    /// recovery would act on it again, and a switch undone here would leave its generation's number recorded.
    private func removeJournal() throws {
        if unlink(layout.journal) != 0 && errno != ENOENT { throw SmartSyncError.io("unlink", path: layout.journal) }
    }

    private func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
