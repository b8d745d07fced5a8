import SmartSyncFetch
import SmartSyncGitObjects

/// What a run reports as it goes, for the progress line and `--json`.
public enum SyncEvent: Sendable {
    /// The ref was resolved to a commit.
    case resolved(ResolvedRef)
    /// The tree listing arrived and was verified; `entries` counts its files and symlinks (not directories).
    case listed(commit: ObjectID, entries: Int, verified: Bool)
    /// The target was scanned.
    case scanned(files: Int, hashed: Int, cacheHits: Int)
    /// The plan is known.
    case planned(PlanSummary)
    /// Download progress: blobs and bytes done out of the totals (bytes total may be unknown).
    case progress(blobsDone: Int, blobsTotal: Int, bytesDone: Int, bytesTotal: Int?)
    /// The target was updated.
    case applied(target: String, commit: ObjectID)
    /// A warning for the operator (submodules skipped, conflicts kept, ...).
    case warning(String)
}

/// Counts per change kind and the download the plan needs.
public struct PlanSummary: Sendable, Codable, Equatable {
    /// Changes per kind (`add`, `modify`, `delete`, ...), kinds with zero omitted.
    public var counts: [String: Int]
    /// Distinct blobs the store lacks.
    public var blobsToFetch: Int
    /// The total size of those whose size the source reported (see ``blobsOfUnknownSize``).
    public var bytesToFetch: Int
    /// How many of the blobs to fetch have no known size (the pack transport's listings carry none): their bytes are
    /// not in ``bytesToFetch``.
    public var blobsOfUnknownSize: Int
    /// True when applying would change nothing.
    public var upToDate: Bool
    /// Tree paths the operator changed since the last sync (content, kind, permissions or owner): a sync keeps each
    /// as a local version and puts the commit's back.
    public var localEdits: [String]

    public init(
        counts: [String: Int], blobsToFetch: Int, bytesToFetch: Int, blobsOfUnknownSize: Int = 0, upToDate: Bool,
        localEdits: [String] = []
    ) {
        self.counts = counts
        self.blobsToFetch = blobsToFetch
        self.bytesToFetch = bytesToFetch
        self.blobsOfUnknownSize = blobsOfUnknownSize
        self.upToDate = upToDate
        self.localEdits = localEdits
    }
}

extension PlanSummary {
    /// The summary of fetching `missing`: how many, their known bytes, how many have no known size.
    init(counts: [String: Int], missing: [NeededBlob], upToDate: Bool, localEdits: [String] = []) {
        self.init(
            counts: counts, blobsToFetch: missing.count, bytesToFetch: missing.knownBytes,
            blobsOfUnknownSize: missing.count { $0.size == nil }, upToDate: upToDate, localEdits: localEdits)
    }
}

/// The result of a `sync`, `plan` or `warm` run: what the JSON summary prints.
public struct SyncSummary: Sendable, Codable {
    public var command: String
    public var source: String
    public var ref: String
    public var commit: String
    public var previousCommit: String?
    public var target: String?
    public var dryRun: Bool
    public var plan: PlanSummary
    public var blobsFetched: Int
    public var bytesReceived: Int
    public var requests: SourceStatistics
    public var transport: String
    public var seconds: Double
    /// Why the run did not use the API (`--force-full`, or what made it fall back to a shallow clone); nil when
    /// it did.
    public var fallbackReason: String?
    /// Local versions saved into the store and recorded before the run replaced them (`smart-sync restore PATH`
    /// brings one back); empty when none.
    public var kept: [KeptPath]
    /// How the files written went in (`--link-mode`): hard links, reflinks and copies; nil when nothing was applied.
    public var placed: Placed?
    /// True when the run changed the target (it holds the new tree), even when a step after the switch failed.
    public var switched: Bool
    /// The step after the switch that failed (``AfterSwitchStep``), when one did; the run then exits 8.
    public var failedAfterSwitch: String?
    /// What the commit checks found: how the commit stands to the target's, and its signer when signatures are
    /// required (``CommitChecks``); nil for `warm`.
    public var commitChecks: CommitCheckReport?

    /// Files an apply put in place, by how.
    public struct Placed: Sendable, Codable, Equatable {
        public var hardlinks: Int
        public var reflinks: Int
        public var copies: Int

        public init(_ report: ApplyReport) {
            hardlinks = report.filesLinked
            reflinks = report.filesReflinked
            copies = report.filesCopied
        }
    }

    public init(
        command: String, source: String, ref: String, commit: String, previousCommit: String?, target: String?,
        dryRun: Bool, plan: PlanSummary, blobsFetched: Int, bytesReceived: Int, requests: SourceStatistics,
        transport: String, seconds: Double, fallbackReason: String? = nil, kept: [KeptPath] = [], placed: Placed? = nil,
        switched: Bool = false
    ) {
        self.command = command
        self.source = source
        self.ref = ref
        self.commit = commit
        self.previousCommit = previousCommit
        self.target = target
        self.dryRun = dryRun
        self.plan = plan
        self.blobsFetched = blobsFetched
        self.bytesReceived = bytesReceived
        self.requests = requests
        self.transport = transport
        self.seconds = seconds
        self.fallbackReason = fallbackReason
        self.kept = kept
        self.placed = placed
        self.switched = switched
    }
}

/// A kept local version in a summary: the path and the blob id holding its content.
public struct KeptPath: Sendable, Codable, Equatable {
    public var path: String
    public var id: String

    public init(path: String, id: String) {
        self.path = path
        self.id = id
    }
}
