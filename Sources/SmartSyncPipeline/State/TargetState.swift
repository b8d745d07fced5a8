import SmartSyncGitObjects

/// What smart-sync remembers about one target between runs.
public struct TargetState: Sendable, Hashable {
    /// The target directory (absolute).
    public var target: String
    /// The last commit applied.
    public var commit: ObjectID
    /// The ref it was resolved from (as the user gave it).
    public var ref: String
    /// When it was applied, nanoseconds since the epoch.
    public var appliedAtNs: Int64
    /// What that sync put into the target.
    public var manifest: Manifest
    /// Tree entries of that commit it did not write because `--keep-local` left a local version there (not
    /// claimed by ``manifest``). With the manifest, the commit's whole listing: a later run of the same commit
    /// takes the listing from here.
    public var keptLocal = Manifest()
    /// The `--exclude` globs the apply ran with (normalized: ``ExcludeSet/globs``), or nil when unknown. Not part of
    /// the state's encoding (a release before them reads the state file as ever): ``StateStore`` keeps them in a
    /// file of their own beside it, tagged with the state's commit and time (``StateStore/load(target:)``). An
    /// excluded path's entry in ``manifest`` is the older commit's, carried over, and a path the commit added under an
    /// exclude is not in it: the manifest is the commit's listing only for a run whose excludes include all of these.
    public var excludes: [String]? = []
    /// An intent's only (a state ignores it): entries an interrupted run's intent claimed that this apply deletes,
    /// neither in ``manifest`` nor in the recorded state. The next run counts them as its own, as it does the
    /// manifest, so a kill before the deletes are done does not leave those paths untracked for good. Never recorded:
    /// once the apply is done they are gone, and a file the operator puts there later is not ours
    /// (``StateStore/save(_:)`` and ``StateStore/load(target:)`` leave it out; the record renames only an intent
    /// without it).
    public var pendingDeletes = Manifest()

    public init(target: String, commit: ObjectID, ref: String, appliedAtNs: Int64, manifest: Manifest) {
        self.target = target
        self.commit = commit
        self.ref = ref
        self.appliedAtNs = appliedAtNs
        self.manifest = manifest
    }

    /// The commit's files as this state holds them: the manifest plus what --keep-local left out of it (merged only
    /// when there is something to add: a merge copies every path). Equal to the commit's listing at every path the
    /// run does not exclude, for a run that ``isListing(forExcludes:)`` says so of; otherwise an excluded path's entry
    /// may be an older commit's.
    var commitFiles: Manifest { keptLocal.isEmpty ? manifest : manifest.union(keptLocal) }

    /// Whether ``commitFiles`` is equal to the commit's listing at every path a run with the exclude globs `globs`
    /// (``ExcludeSet/globs``) does not exclude: the state was applied with no exclude the run lacks; unknown ones (nil)
    /// count as lacked.
    func isListing(forExcludes globs: [String]) -> Bool { excludes?.allSatisfy(globs.contains) == true }

    static let magic: StaticString = "SSST"
    static let version: UInt32 = 1

    func encoded() -> [UInt8] {
        var w = BinaryWriter(magic: Self.magic, version: Self.version)  // the manifest makes its own room
        w.append(target)
        w.append(commit)
        w.append(ref)
        w.append(appliedAtNs)
        manifest.write(to: &w)
        // Only when there is one, so states without it read as before (also by earlier versions). The pending deletes
        // follow it (it then written even when empty); only an intent has them, and only after a killed run's.
        if !keptLocal.isEmpty || !pendingDeletes.isEmpty { keptLocal.write(to: &w) }
        if !pendingDeletes.isEmpty { pendingDeletes.write(to: &w) }
        return w.finish()
    }

    init?(encoded bytes: [UInt8]) {
        guard let state = bytes.withUnsafeBufferPointer({ Self(encoded: $0) }) else { return nil }
        self = state
    }

    /// ``init(encoded:)`` of bytes it does not own (valid while it runs).
    init?(encoded bytes: UnsafeBufferPointer<UInt8>) {
        guard var r = BinaryReader(bytes, magic: Self.magic, version: Self.version) else { return nil }
        self.init(reading: &r)
    }

    /// The state file (or intent) at `path`, decoded as it is read (no array of the whole file:
    /// ``BinaryReader/decodeFile(_:magic:versions:regularOnly:bufferSize:_:)``); nil when there is none or it is
    /// damaged, and with `regularOnly` when what is there is no regular file (a symlink is not followed, a FIFO does
    /// not block).
    ///
    /// - Throws: `SmartSyncError` (`.io`) naming `path` when it cannot be opened or read.
    static func read(
        from path: String, regularOnly: Bool = false, bufferSize: Int = BinaryReader.bufferSize
    ) throws -> TargetState? {
        try BinaryReader.decodeFile(
            path, magic: magic, versions: version...version, regularOnly: regularOnly, bufferSize: bufferSize
        ) { r, _ in Self(reading: &r) }
    }

    /// The state `r` holds past its header; nil unless it ends at the end of `r`'s body (``BinaryReader/isAtEnd``).
    private init?(reading r: inout BinaryReader) {
        guard let target = r.readString(), let commit = r.readID(), let ref = r.readString(),
            let at = r.readInt64(), let manifest = Manifest(reading: &r)
        else { return nil }
        self.init(target: target, commit: commit, ref: ref, appliedAtNs: at, manifest: manifest)
        if !r.isAtEnd {
            guard let kept = Manifest(reading: &r) else { return nil }
            keptLocal = kept
        }
        if !r.isAtEnd {
            guard let pending = Manifest(reading: &r), r.isAtEnd else { return nil }
            pendingDeletes = pending
        }
    }
}
