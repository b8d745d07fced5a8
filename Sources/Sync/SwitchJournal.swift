import CLinuxShims
import ObjectStore
import SmartSyncCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The record of one directory exchange in progress, written before `renameat2(RENAME_EXCHANGE)` so that a
/// run killed anywhere around it can tell afterwards whether the exchange happened.
///
/// After the exchange the target has the inode `incomingInode` (the tree that was at `incoming`), and
/// `incoming` holds the outgoing tree, which belongs in generation `sequence`.
struct SwitchJournal: Equatable {
    /// The generation the outgoing tree becomes.
    var sequence: Int
    /// The path swapped with the target (the stage, or a generation's tree on rollback).
    var incoming: String
    /// Its inode before the exchange.
    var incomingInode: UInt64
    /// A generation whose tree is the incoming one (rollback): its record is removed once the switch is done.
    var consumed: Int?

    func encoded() -> [UInt8] {
        var text = "sequence=\(sequence)\nincoming=\(incoming)\nincoming-inode=\(incomingInode)\n"
        if let consumed { text += "consumed=\(consumed)\n" }
        return Array(text.utf8)
    }

    init(sequence: Int, incoming: String, incomingInode: UInt64, consumed: Int?) {
        self.sequence = sequence
        self.incoming = incoming
        self.incomingInode = incomingInode
        self.consumed = consumed
    }

    init?(_ bytes: [UInt8]) {
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { return nil }
            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        guard let seq = fields["sequence"].flatMap(Int.init), let incoming = fields["incoming"],
            let inode = fields["incoming-inode"].flatMap(UInt64.init)
        else { return nil }
        self.init(
            sequence: seq, incoming: incoming, incomingInode: inode, consumed: fields["consumed"].flatMap(Int.init))
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

    /// Exchanges `incoming` with the target; the outgoing tree becomes generation `sequence` with `state`.
    ///
    /// - Throws: ``ExchangeUnsupported`` (nothing changed) when the file system refuses the exchange.
    func exchange(
        incoming: String, sequence: Int, outgoingState: TargetState?, consumed: Int?,
        checkpoint: (String) throws -> Void
    ) throws {
        guard let inode = TreeOps.inode(incoming) else { throw SmartSyncError.io("lstat", path: incoming) }
        let tree = try generations.prepare(sequence, state: outgoingState)
        let journal = SwitchJournal(sequence: sequence, incoming: incoming, incomingInode: inode, consumed: consumed)
        try FileSystem.writeFileAtomically(layout.journal, journal.encoded())
        try checkpoint("before-exchange")
        if ss_renameat2(AT_FDCWD, incoming, AT_FDCWD, layout.target, ss_rename_exchange) != 0 {
            let err = errno
            unlink(layout.journal)
            try? generations.remove(sequence)
            if [EINVAL, ENOSYS, ENOTSUP, EOPNOTSUPP, EXDEV].contains(err) { throw ExchangeUnsupported(errno: err) }
            throw SmartSyncError.io("renameat2(RENAME_EXCHANGE)", path: layout.target, errno: err)
        }
        FileSystem.syncDirectory(parent(of: layout.target))
        try checkpoint("after-exchange")
        try finish(journal, tree: tree)
    }

    /// Completes or undoes an exchange recorded in the journal; removes a stage a killed run left. Safe to call
    /// when nothing is pending.
    func recover() throws {
        if let (bytes, _) = try FileSystem.readFileIfPresent(layout.journal) {
            guard let journal = SwitchJournal(bytes) else {
                throw SmartSyncError(
                    .io,
                    "the switch journal \(layout.journal) is damaged; inspect \(layout.sidecar) and remove the journal")
            }
            if TreeOps.inode(layout.target) == journal.incomingInode {
                // The exchange happened: the outgoing tree waits at `incoming`.
                try finish(journal, tree: layout.generation(journal.sequence) + "/tree")
            } else {
                unlink(layout.journal)
                try generations.remove(journal.sequence)
            }
        }
        try TreeOps.removeTree(layout.stage)
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
