import CLinuxShims
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncObjectStore

/// The record of one directory exchange in progress, written before `renameat2(RENAME_EXCHANGE)` so that a
/// run killed anywhere around it can tell afterwards whether the exchange happened.
///
/// After the exchange the target has the inode `incomingInode` (the tree that was at `incoming`), and
/// `incoming` holds the outgoing tree, which belongs in generation `sequence`.
///
/// `<sidecar>/journal`, a ``JSONRecord`` (format `smart-sync-switch-journal`, version 1), written atomically and
/// durable before the exchange. The `key=value` text of smart-sync 0.1.0 is still read (``init(legacyText:)``): a
/// journal left by a run of that release is finished or undone like any other.
struct SwitchJournal: JSONRecord, Equatable {
    static let format = "smart-sync-switch-journal"
    static let version = 1

    /// The generation the outgoing tree becomes.
    var sequence: Int
    /// The path swapped with the target (the stage, or a generation's tree on rollback).
    var incoming: String
    /// Its inode before the exchange.
    var incomingInode: UInt64
    /// A generation whose tree is the incoming one (rollback): its record is removed once the switch is done.
    var consumed: Int?

    init(sequence: Int, incoming: String, incomingInode: UInt64, consumed: Int?) {
        self.sequence = sequence
        self.incoming = incoming
        self.incomingInode = incomingInode
        self.consumed = consumed
    }

    /// The journal at `path`, in either format; nil when there is none.
    ///
    /// - Throws: `SmartSyncError` (`.io`) naming the journal when it is damaged or from a newer release: recovery
    ///   cannot tell what the killed run was doing, so it stops rather than guess.
    static func load(from path: String, sidecar: String) throws -> SwitchJournal? {
        do {
            return try read(at: path) { bytes in SwitchJournal(legacyText: bytes).map { ($0, []) } }?.record
        } catch let error as SmartSyncError where error.code == .integrity {
            throw SmartSyncError(
                .io, "the switch journal cannot be used: \(error.message)",
                hint: "inspect \(sidecar) and remove the journal", cause: error)
        }
    }

    /// Parses the `key=value` text of smart-sync 0.1.0 (`sequence`, `incoming`, `incoming-inode`, `consumed`).
    init?(legacyText bytes: [UInt8]) {
        guard let fields = KeyValueText.parse(bytes), let seq = fields["sequence"].flatMap(Int.init),
            let incoming = fields["incoming"],
            let inode = fields["incoming-inode"].flatMap(UInt64.init)
        else { return nil }
        self.init(
            sequence: seq, incoming: incoming, incomingInode: inode, consumed: fields["consumed"].flatMap(Int.init))
    }
}

/// The `key=value` text, one field per line, in which smart-sync 0.1.0 wrote the switch journal and the
/// pending-rebuild mark; read only to migrate them.
enum KeyValueText {
    /// The fields of `bytes`; nil when a line has no `=`.
    static func parse(_ bytes: [UInt8]) -> [String: String]? {
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { return nil }
            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return fields
    }
}

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
    ///
    /// `exchanged` runs as soon as the target holds the incoming tree, before the outgoing one is filed: the caller
    /// records the new state there. When it throws, the journal stays, so the next run's ``recover()`` finishes
    /// the switch (and ``StateStore/recoverSwitch(target:)`` records the tree from the intent).
    ///
    /// - Throws: ``ExchangeUnsupported`` (nothing changed) when the file system refuses the exchange;
    ///   ``AfterExchange`` when a step after it failed (the switch stands).
    func exchange(
        incoming: String, sequence: Int, outgoingState: TargetState?, consumed: Int?,
        checkpoint: (String) throws -> Void, exchanged: () throws -> Void = {}
    ) throws {
        guard let inode = TreeOps.inode(incoming) else { throw SmartSyncError.io("lstat", path: incoming) }
        let tree = try generations.prepare(sequence, state: outgoingState)
        let journal = SwitchJournal(sequence: sequence, incoming: incoming, incomingInode: inode, consumed: consumed)
        try journal.write(to: layout.journal)
        try checkpoint("before-exchange")
        if ss_renameat2(AT_FDCWD, incoming, AT_FDCWD, layout.target, ss_rename_exchange) != 0 {
            let err = errno
            unlink(layout.journal)
            try? generations.remove(sequence)
            if [EINVAL, ENOSYS, ENOTSUP, EOPNOTSUPP, EXDEV].contains(err) { throw ExchangeUnsupported(errno: err) }
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

    /// Completes or undoes an exchange recorded in the journal; removes a stage a killed run left. Safe to call
    /// when nothing is pending. Returns true when it completed an exchange that had happened (the target holds the
    /// tree that run swapped in).
    @discardableResult
    func recover() throws -> Bool {
        try layout.checkSidecar()
        var completed = false
        if let journal = try SwitchJournal.load(from: layout.journal, sidecar: layout.sidecar) {
            if TreeOps.inode(layout.target) == journal.incomingInode {
                // The exchange happened: the outgoing tree waits at `incoming`.
                try finish(journal, tree: layout.generation(journal.sequence) + "/tree")
                completed = true
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

extension StateStore {
    /// Finishes or undoes a switch of `target` that a killed or failed run left (``TreeSwitch/recover()``). When the
    /// exchange had happened, the target holds what that run announced in its intent (written before its journal):
    /// that becomes the target's state, since the run died, or failed to save it, before recording it.
    /// Call under the target lock, before anything reads the target's state.
    func recoverSwitch(target: String) throws {
        guard try TreeSwitch(layout: SwitchLayout(target: target)).recover(),
            let intent = try loadIntent(target: target)
        else { return }
        try save(intent)
        try clearIntent(target: target)
    }
}
