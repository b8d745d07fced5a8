import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Imports the objects of a git pack file (protocol v2 `fetch` output, or `git pack-objects`) into an
/// ``ObjectStore``.
///
/// The pack is streamed with bounded buffers: whole objects are inflated straight into store writers, deltas are
/// applied as their instructions inflate, copying from the base's file in the store into a store writer. Every
/// object is stored under the SHA-1 of its own content, so nothing in the pack needs to be trusted: a damaged entry
/// can only fail, never store wrong bytes under a right name. Memory does not depend on any size the pack
/// declares: it is fixed buffers plus a small record (offset, kind, id) per entry and per delta waiting for its
/// base.
public struct PackImporter: Sendable {
    /// Where objects go (and where a thin pack's bases come from).
    public let store: ObjectStore

    /// An importer into `store`.
    public init(store: ObjectStore) {
        self.store = store
    }

    /// Imports every object of the pack file at `path` into the store.
    ///
    /// Objects complete before a truncation or corrupt entry are kept (each stored under the SHA-1 of its own
    /// content, so nothing unverified is ever stored); the error is thrown afterwards. Errors are
    /// ``SmartSyncError``s (`.malformedResponse` for bytes that are not a valid pack, `.integrity` for failed
    /// checks) that name the problem, the entry's offset and the pack's path.
    ///
    /// What `limits` do not allow is refused (`.malformedResponse`, naming the limit) before it reaches the store:
    /// a pack declaring too many objects before any is read, an object too large (or past the budget) before a byte
    /// of it is written, an object not asked for before it is published. What was asked for and arrived whole is
    /// kept, as after a truncation.
    ///
    /// - Parameters:
    ///   - arrival: when the pack is still being written to `path` (a download), how much is there: the import then
    ///     keeps pace with it and ends where the pack ends, not where the file ends now.
    ///   - limits: what the pack may hold (see ``PackLimits``).
    ///   - budget: what the run may still add to the store, shared with its other downloads (`--max-download`):
    ///     the objects' declared sizes are taken from it before they are written (`.limitExceeded` when they do
    ///     not fit).
    ///   - holding: a batch the objects are added to and left in, unpublished (the caller reads them through it and
    ///     drops them with it: no `syncfs`, nothing named in the store); nil: a batch of the import's own, published.
    @discardableResult
    public func importPack(
        atPath path: String, arrival: PackArrival? = nil, limits: PackLimits = PackLimits(), budget: ByteBudget? = nil,
        holding: ObjectBatch? = nil
    ) throws -> PackImportReport {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        defer { close(fd) }
        let run = PackImportRun(
            store: store, fd: fd, path: path, arrival: arrival, limits: limits, budget: budget, batch: holding)
        // The objects become visible together, once durable (``ObjectBatch``): those complete before a failure too,
        // but never one the pack was not asked for.
        do {
            try run.importAll()
        } catch {
            run.dropUnreachable()
            if holding == nil { try? run.batch.publish() }
            throw error
        }
        let strays = run.dropUnreachable()
        if holding == nil { try run.batch.publish() }
        if let refusal = run.unreachableFailure(strays) { throw refusal }
        return run.report
    }
}

/// The state of one import: the input, the inflater, the table of entries seen and the deltas waiting for their bases.
final class PackImportRun {
    private let store: ObjectStore
    /// Where the objects wait until they are all durable; deltas read their bases through it.
    let batch: ObjectBatch
    private let fd: Int32
    let path: String
    /// What the pack may hold, and what the run may still store (see
    /// ``PackImporter/importPack(atPath:arrival:limits:budget:)``).
    let limits: PackLimits
    let budget: ByteBudget?
    /// Declared sizes of the objects written so far (against ``PackLimits/maxObjectBytes``).
    var objectBytes = 0
    private let inflater = Inflater()
    private let kinds = StoredObjectKinds()
    /// Entries resolved so far, by offset: what OFS_DELTA bases refer to. Ids and kinds only, never data.
    private var resolved: [Int: (kind: ObjectKind, id: ObjectID)] = [:]
    /// The objects this pack has provided, with their kinds (REF_DELTA bases in the pack are not external).
    private(set) var provided: [ObjectID: ObjectKind] = [:]
    /// Deltas whose base was not available when they were read (their offsets), by the entry offset (OFS_DELTA)
    /// or the id (REF_DELTA) they wait for.
    private var waitingOnOffset: [Int: [Int]] = [:]
    private var waitingOnID: [ObjectID: [Int]] = [:]
    /// How many deltas wait (in the two tables or in `ready`).
    private var waiting = 0
    /// Offsets of waiting deltas whose base is now stored.
    private var ready: [Int] = []
    var report = PackImportReport()

    /// Set while the pack is still arriving.
    private let arrival: PackArrival?

    /// The pack file's size now (to recognize an entry read where the trailer is).
    private var size: Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : -1
    }

    init(
        store: ObjectStore, fd: Int32, path: String, arrival: PackArrival?, limits: PackLimits, budget: ByteBudget?,
        batch: ObjectBatch? = nil
    ) {
        self.store = store
        self.batch = batch ?? ObjectBatch(store: store)
        self.fd = fd
        self.path = path
        self.arrival = arrival
        self.limits = limits
        self.budget = budget
    }

    /// Reads the pack once from start to trailer; a delta whose base comes later is applied as soon as that base
    /// is stored.
    func importAll() throws {
        let input = PackInput(fd: fd, path: path, hashing: true, arrival: arrival)
        defer { report.packBytes = input.offset }
        let count = try readPackHeader(input)
        for index in 0..<count {
            let offset = input.offset
            try entry(at: offset, "entry \(index + 1) of \(count)") {
                let header = try PackEntryHeader.read(from: input)
                try read(header, at: offset, from: input)
            }
            try resolveReady()
        }
        try checkTrailer(input, count: count)
        try checkNothingWaits()
    }

    private func readPackHeader(_ input: PackInput) throws -> Int {
        let header = try entry(at: 0, nil) {
            guard let bytes = try input.read(count: 12) else { throw PackProblem.truncated("the 12-byte pack header") }
            return bytes
        }
        guard header[0..<4].elementsEqual("PACK".utf8) else {
            throw failure(PackProblem("it does not start with 'PACK'; it is not a git pack"), at: 0)
        }
        let version = header[4..<8].reduce(0) { $0 << 8 | Int($1) }
        guard version == 2 || version == 3 else {
            throw failure(PackProblem("pack version \(version) is not supported (only 2 and 3)"), at: 4)
        }
        let count = header[8..<12].reduce(0) { $0 << 8 | Int($1) }
        try entry(at: 8, nil) { try checkCount(count) }
        return count
    }

    /// Runs one entry's (or the header's, or the trailer's) work, turning a ``PackProblem`` into an error that
    /// names the entry, its offset and the pack.
    private func entry<T>(at offset: Int, _ label: String?, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let problem as PackProblem {
            throw failure(problem, at: offset, entry: label)
        }
    }

    private func failure(_ problem: PackProblem, at offset: Int, entry: String? = nil) -> SmartSyncError {
        let place = entry.map { "\($0), at offset \(offset)" } ?? "at offset \(offset)"
        var text = problem.text
        if problem.isRefusal {
            let kept =
                report.objects == 0
                ? "Nothing was stored" : "What arrived before it and was asked for is verified by its ids and kept"
            return SmartSyncError(
                problem.code, "the pack \(path) was refused (\(place)): \(text). \(kept)", hint: problem.hint)
        }
        if entry != nil && offset == size - 20 {
            text += " (that is where the trailer is: the pack holds fewer entries than its header says)"
        }
        let kept =
            report.objects == 0
            ? "Nothing was stored"
            : "The \(report.objects) objects stored before it are verified by their ids and kept"
        return SmartSyncError(
            problem.code, "the pack \(path) is invalid (\(place)): \(text). \(kept)", hint: "fetch the pack again")
    }

    /// Reads one entry's data after its header and stores the object, or records the delta as waiting for its base.
    private func read(_ header: PackEntryHeader, at offset: Int, from input: PackInput) throws {
        if let kind = header.kind {
            try charge(kind, size: header.size)
            let writer = try batch.makeWriter(kind: kind, size: header.size)
            let id: ObjectID
            do {
                try inflater.inflate(from: input, size: header.size) { try writer.write($0) }
                id = try writer.commit()
            } catch {
                writer.abort()
                throw error
            }
            try admit(id, kind)
            record(id, kind, at: offset, delta: false)
            return
        }
        guard let base = header.base else { preconditionFailure("a delta header without a base") }
        if let available = availableBase(base) {
            try applyDelta(from: input, size: header.size, base: available, at: offset)
        } else {
            // Skipped (inflated to find where the next entry starts); inflated again once its base is stored.
            try inflater.inflate(from: input, size: header.size) { _ in }
            switch base {
            case .offset(let baseOffset): waitingOnOffset[baseOffset, default: []].append(offset)
            case .id(let id): waitingOnID[id, default: []].append(offset)
            }
            waiting += 1
        }
    }

    /// Notes a stored object; the deltas waiting for it become ready.
    private func record(_ id: ObjectID, _ kind: ObjectKind, at offset: Int, delta: Bool) {
        resolved[offset] = (kind, id)
        provided[id] = kind
        report.objects += 1
        if delta { report.deltas += 1 }
        report.ids[kind, default: 0] += 1
        if let offsets = waitingOnOffset.removeValue(forKey: offset) { ready += offsets }
        if let offsets = waitingOnID.removeValue(forKey: id) { ready += offsets }
    }

    /// The id and (when known) kind of a delta's base, or nil when it is not available yet. A thin pack's base
    /// (in the store, not in the pack) has no known kind: it is found from its content.
    private func availableBase(_ base: PackEntryHeader.Base) -> (id: ObjectID, kind: ObjectKind?)? {
        switch base {
        case .offset(let baseOffset):
            guard let entry = resolved[baseOffset] else { return nil }
            return (entry.id, entry.kind)
        case .id(let id):
            if let kind = provided[id] { return (id, kind) }
            return batch.contains(id) ? (id, nil) : nil
        }
    }

    /// Rebuilds and stores a delta's object as its instructions inflate from `input`: copies are read from the
    /// base's file, the result goes to a store writer in chunks (see ``DeltaApplier``).
    private func applyDelta(
        from input: PackInput, size: Int, base: (id: ObjectID, kind: ObjectKind?), at offset: Int
    ) throws {
        let source = try StoredDeltaBase(path: batch.readablePath(for: base.id), id: base.id)
        let kind = try base.kind ?? kinds.kind(of: source, store: store)
        var writer: ObjectWriter?
        let applier = DeltaApplier(
            base: source,
            start: { [self] targetSize in
                try charge(kind, size: targetSize)
                writer = try batch.makeWriter(kind: kind, size: targetSize)
            },
            sink: { chunk in
                guard let writer else { preconditionFailure("delta output before its result size") }
                try writer.write(chunk)
            })
        let id: ObjectID
        do {
            try inflater.inflate(from: input, size: size) { try applier.feed($0) }
            try applier.finish()
            guard let writer else { preconditionFailure("a finished delta without a result size") }
            id = try writer.commit()
        } catch {
            writer?.abort()
            throw error
        }
        try admit(id, kind)
        if base.kind == nil { report.externalBases += 1 }
        record(id, kind, at: offset, delta: true)
    }

    /// Applies the deltas made ready by stored bases (a work-list: each result may make more ready), re-reading
    /// each from the file. Every waiting delta is inflated twice at most: skipped in the pass, applied here.
    private func resolveReady() throws {
        while let offset = ready.popLast() {
            waiting -= 1
            try entry(at: offset, "a delta whose base came later") {
                let input = PackInput(fd: fd, path: path, at: offset, capacity: 64 * 1024, hashing: false)
                let header = try PackEntryHeader.read(from: input)
                guard let base = header.base.flatMap(availableBase) else {
                    preconditionFailure("a ready delta whose base is not available")
                }
                try applyDelta(from: input, size: header.size, base: base, at: offset)
            }
        }
    }

    private func checkTrailer(_ input: PackInput, count: Int) throws {
        let offset = input.offset
        let computed = input.digest()
        let trailer = try entry(at: offset, nil) {
            guard let bytes = try input.read(count: 20) else { throw PackProblem.truncated("its 20-byte trailer") }
            return bytes
        }
        guard try input.atEnd() else {
            throw failure(
                PackProblem("bytes follow the trailer; the pack holds more than the \(count) entries its header says"),
                at: offset)
        }
        guard ObjectID(bytes: trailer) == computed else {
            throw failure(
                PackProblem(
                    .integrity,
                    "the trailer \(ObjectID(bytes: trailer)!) does not match the SHA-1 of "
                        + "the pack's content, \(computed)"
                ), at: offset)
        }
        report.trailerVerified = true
    }

    /// Fails naming the first delta whose base never came (left waiting after the whole pack was read).
    private func checkNothingWaits() throws {
        guard waiting > 0 else { return }
        let byOffset = waitingOnOffset.flatMap { base, offsets in
            offsets.map { ($0, PackEntryHeader.Base.offset(base)) }
        }
        let byID = waitingOnID.flatMap { id, offsets in offsets.map { ($0, PackEntryHeader.Base.id(id)) } }
        guard let (offset, base) = (byOffset + byID).min(by: { $0.0 < $1.0 }) else { return }
        let problem: PackProblem
        switch base {
        case .id(let id):
            problem = PackProblem(.notFound, "the pack is thin and base \(id) is not in the store")
        case .offset(let baseOffset):
            problem = PackProblem("the OFS_DELTA base at offset \(baseOffset) is not an entry that could be resolved")
        }
        throw failure(problem, at: offset, entry: "a delta (\(waiting) unresolved)")
    }
}
