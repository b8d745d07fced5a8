import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
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
///
/// Below the JSON line, the journal's payload holds ``pending``: the kept-version records of the operator's versions
/// the switch takes out of the target (a rollback's), one ``KeptVersion`` line each. They are written with the journal
/// (one file, one fsync), so a run killed after the exchange, before it appended them to the target's log, leaves
/// them to the recovery, which appends them when it finishes the switch and drops them with the journal when it undoes
/// it. The version stays 1: earlier releases read the JSON line only and ignore the payload (they recover such a
/// switch as before, the records unwritten), and their journals have no payload (nothing pending).
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
    /// True when the incoming tree is the one found before the first sync (a rollback to it): it has no state, so
    /// the target's is forgotten once the exchange stands. Absent (nil) otherwise, and in journals of earlier releases.
    ///
    /// The version stays 1: the field is written only for such a rollback, which clears any intent before its
    /// journal, so an earlier release (which ignores the field) recovers it as it recovered its own rollbacks to that
    /// tree: no intent, nothing recorded, never a guess. Version 2 would make it refuse every journal of this release.
    var untracked: Bool?
    /// The kept-version records to append to the target's log once the exchange stands (the payload, not a JSON field).
    var pending: [KeptVersion] = []

    private enum CodingKeys: String, CodingKey {
        case sequence, incoming, incomingInode, consumed, untracked
    }

    init(
        sequence: Int, incoming: String, incomingInode: UInt64, consumed: Int?, untracked: Bool? = nil,
        pending: [KeptVersion] = []
    ) {
        self.sequence = sequence
        self.incoming = incoming
        self.incomingInode = incomingInode
        self.consumed = consumed
        self.untracked = untracked
        self.pending = pending
    }

    /// The payload below the JSON line: one line per ``pending`` record.
    var payload: [UInt8] { Array(pending.map { $0.line() }.joined().utf8) }

    /// Writes the journal and its ``pending`` records atomically, durable when this returns.
    func write(to path: String) throws {
        try write(to: path, payload: payload)
    }

    /// The journal of `layout`'s switch as recovery, gc and fsck read it (one reader): nil when there is none, or
    /// when it is unwritten (``isUnwritten(_:)``: a power cut before its bytes reached the disk, an exchange that did
    /// not happen); otherwise the journal, in either format, read once.
    ///
    /// Only a regular file is read: anything else at its path (a symlink, which is not followed; a FIFO, whose open
    /// does not block; a directory) is refused, naming it: smart-sync writes only a regular file there, so what is
    /// there is not its journal, and whether a switch is pending cannot be told.
    ///
    /// - Throws: `SmartSyncError` (`.unsafePath`) for a file that is not regular; (`.io`) naming the journal when it
    ///   is damaged or from a newer release, with ``damagedHint(_:)``: recovery cannot tell what the killed run was
    ///   doing, so it stops rather than guess.
    static func load(layout: SwitchLayout) throws -> SwitchJournal? {
        try load(from: layout.journal, layout: layout)
    }

    /// ``load(layout:)`` of a journal at `path` instead of `layout`'s (tests read fixtures); `layout` names the target
    /// in what it throws.
    static func load(from path: String, layout: SwitchLayout) throws -> SwitchJournal? {
        guard
            let (bytes, _) = try FileSystem.readRegularFileRefusingOthers(
                path, what: "where smart-sync keeps the switch journal of \(layout.target)",
                hint: "smart-sync writes only a regular file there, in a directory private to the user it runs as: "
                    + "find out what put it there, remove it and run again"),
            !isUnwritten(bytes)
        else { return nil }
        do {
            let legacy = { (bytes: [UInt8]) in SwitchJournal(legacyText: bytes).map { ($0, ArraySlice<UInt8>()) } }
            let loaded = try decode(bytes, path: path, legacy: legacy)
            var journal = loaded.record
            // A line this release cannot read (a newer release's) is left out: the version it names stays in the store
            // until gc, as every version before pending records were journaled. A last line without its newline may be
            // cut short (a path missing its end): not a record, as ``LineLog`` reads the logs.
            let payload = loaded.payload
            let lines = payload[..<(payload.lastIndex(of: UInt8(ascii: "\n")) ?? payload.startIndex)]
            journal.pending = String(decoding: lines, as: UTF8.self).split(separator: "\n").compactMap {
                KeptVersion(line: $0)
            }
            return journal
        } catch let error as SmartSyncError where error.code == .integrity {
            throw SmartSyncError(
                .io, "the switch journal cannot be used: \(error.message)", hint: damagedHint(layout), cause: error)
        }
    }

    /// What to do about a journal that cannot be read, for the recovery and gc alike: removing it is right only when
    /// its exchange did not happen, and the target's inode tells. The paths it names come from `layout`, not from the
    /// journal (which cannot be read): the tree the exchange took out is the stage for a sync, a generation's tree for
    /// a rollback, and the latter is the newest tree, with any edited files the rollback took out (their kept versions
    /// recorded only in the journal), so it is moved aside, never deleted unchecked.
    static func damagedHint(_ layout: SwitchLayout) -> String {
        let target = layout.target
        let generation = layout.generations + "/<N>"
        return "it records a switch of \(target) that a run was interrupted in. If a newer smart-sync wrote it, run "
            + "that release. Otherwise remove it by hand only knowing whether its exchange happened: the target's "
            + "inode (`stat -c %i \(target)`) equal to the journal's incomingInode means it did. If it did not, remove "
            + "the journal and run again. If it did, \(target) holds the incoming tree, unrecorded, and the tree it "
            + "replaced is at the journal's incoming path: \(layout.stage) for a sync, \(generation)/tree for a "
            + "rollback to generation N (the newest tree, with any edited files the rollback took out). Move that path "
            + "out of the sidecar (e.g. `mv \(layout.stage) /root/smart-sync-outgoing`) and delete it once checked, "
            + "remove the journal, then run `smart-sync sync`, which brings the target to its ref whatever it holds "
            + "(files unlike the recorded state are kept as local versions). For a rollback, that undoes it; "
            + "`smart-sync sync --ref COMMIT`, COMMIT the one `smart-sync rollback --target \(target) --list` shows "
            + "for generation N (list it before moving its tree), finishes it instead"
    }

    /// Whether a journal's bytes are unwritten: empty, or NULs only. A staged switch writes its journal unsynced
    /// before its stage's sync
    /// (``TreeSwitch/prepare(incoming:sequence:outgoingState:outgoingStateFile:consumed:untracked:pending:durable:)``),
    /// and a power cut can leave it without its bytes (NULs: ext4 `data=writeback` or `nodelalloc`, its size kept):
    /// its exchange comes only after that sync and the journal's fsync (``TreeSwitch/confirmJournal(_:)``), so it did
    /// not happen. (A synced journal is never so: its bytes are fsynced before the exchange, and JSON has no NUL.)
    static func isUnwritten(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 == 0 } }

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

extension StateStore {
    /// Finishes or undoes a switch of `target` that a killed or failed run left (``TreeSwitch/recover(record:)``). When
    /// the exchange had happened, the target holds what that run announced in its intent (written before its journal):
    /// that becomes the target's state, since the run died, or failed to save it, before recording it. A rollback to
    /// the tree found before the first sync announces no intent but says so in its journal: the state is forgotten.
    /// The journal's pending kept-version records (a rollback's, ``SwitchJournal/pending``) are appended to the
    /// target's log, those it has already left out (the killed run may have appended them); a switch undone drops them.
    /// A pending record whose object `store` no longer holds (swept by a gc of a release that did not read journals,
    /// or removed by hand) is not recorded, since `restore` could not use it: `warn` names it.
    /// Then, with `looks` (the runs that change the target: `sync`, `update`, `rollback`, `restore PATH`; not `plan`
    /// nor a listing, which write nothing of their own), the looks at outgoing trees that killed or failed runs left
    /// to do are done (``keepPendingLooks(target:store:warn:)``); the prune leaves their generations meanwhile.
    /// Call under the target lock, before anything reads the target's state.
    ///
    /// The state is recorded (and the intent cleared) before the journal is removed, as a switch records it before
    /// its own journal goes: a kill or a failure in between leaves the journal, and the next recovery records again
    /// (each step is safe to repeat: forgetting twice, or finding the intent gone and the state recorded).
    func recoverSwitch(
        target: String, store: ObjectStore, looks: Bool = true, warn: (String) -> Void = { _ in }
    ) throws {
        try TreeSwitch(layout: SwitchLayout(target: target)).recover { exchanged in
            if !exchanged.pending.isEmpty {
                // Their versions were made durable in the store before the journal was written, and gc keeps them
                // (``StoreRoots``); one missing all the same is left out rather than recorded unusable.
                let log = KeptVersionLog(state: self, target: target)
                let recorded = Set(try log.load())
                let held = exchanged.pending.filter { version in
                    if store.contains(version.id) { return true }
                    warn(
                        "the kept version of '\(version.path)' (object \(version.id.abbreviated())) that an "
                            + "interrupted rollback took out of the target is no longer in the store: not recorded")
                    return false
                }
                try log.append(held.filter { !recorded.contains($0) })
            }
            if exchanged.untracked == true {
                try forget(target: target)
            } else if let intent = try loadIntent(target: target) {
                try save(intent)
            }
            try clearIntent(target: target)
        }
        if looks { try keepPendingLooks(target: target, store: store, warn: warn) }
    }
}
