import Logging
import SmartSyncCore
import Synchronization
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer

extension MirrorSource {
    /// Blob requests in flight until the mirror has served one.
    static let firstWindow = 8
    /// Blob requests in flight once it has.
    static let window = 256

    /// What became of one blob asked of the mirror.
    enum BlobOutcome: Sendable {
        /// Verified and stored: body bytes received, and whether a damaged first copy was discarded.
        case stored(bytes: Int, refetched: Bool)
        /// The mirror does not have it (404), or served it damaged twice: left for the next source.
        case leftOver(SmartSyncError, bytes: Int)
    }

    /// Downloads `blobs` into `store` from `objects/` (each verified by its id, resumable with `Range`), or, for a
    /// cold store, the commit's pack (see ``shouldTakePack(_:of:)``). Blobs the mirror lacks, or serves damaged twice,
    /// are left for the next source: everything else is stored first, then a ``SourceFailure`` says what is left, so
    /// a ``FailoverSource`` under ``FailoverPolicy/mirror`` asks the next source for exactly those.
    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        var seen = Set<ObjectID>()
        var wanted = blobs.filter { seen.insert($0.id).inserted && !store.contains($0.id) }
        var report = FetchReport()
        if shouldTakePack(wanted.count, of: ref.commit) {
            report = try await fetchPack(wanted, of: ref, into: store, progress: progress)
            wanted = wanted.filter { !store.contains($0.id) }
        }
        let hints = state.withLock { $0.sizeHints }
        wanted = wanted.map { BlobWant(id: $0.id, path: $0.path, size: $0.size ?? hints[$0.id]) }
        var left: [(BlobWant, SmartSyncError)] = []
        // The mirror is down, failing or throttling: the blobs not asked yet go to the next source at once.
        var down: SmartSyncError?
        await withTaskGroup(of: (BlobWant, BlobOutcome).self) { group in
            var next = 0
            func addNext() {
                guard down == nil, next < wanted.count else { return }
                let want = wanted[next]
                next += 1
                group.addTask { (want, await self.fetchObject(want, store: store, progress: progress)) }
            }
            // A few requests until the mirror has served one blob, so one that is down costs a few retries, not a
            // window's worth; then the full window.
            for _ in 0..<Self.firstWindow { addNext() }
            while let (want, outcome) = await group.next() {
                switch outcome {
                case .stored(let bytes, let refetched):
                    report.blobsFetched += 1
                    report.bytesReceived += bytes
                    if refetched { report.refetched += 1 }
                    if report.blobsFetched == 1 { for _ in Self.firstWindow..<Self.window { addNext() } }
                case .leftOver(let error, let bytes):
                    report.bytesReceived += bytes
                    left.append((want, error))
                    if down == nil, Self.downReason(error) != nil {
                        down = error
                        group.cancelAll()
                    }
                }
                addNext()
            }
        }
        if let down, let reason = Self.downReason(down) {
            logger.debug(
                "mirror \(baseURL): \(down.message); the blobs left go to the next source",
                metadata: ["mirror": "\(baseURL)"])
            throw SourceFailure(
                reason,
                SmartSyncError(
                    down.code,
                    "the mirror \(baseURL) failed after \(report.blobsFetched) of \(wanted.count) blobs: "
                        + down.message,
                    hint: down.hint, cause: down, httpStatus: down.httpStatus),
                report: report)
        }
        logger.debug(
            "mirror \(baseURL): \(report.blobsFetched) blobs stored, \(left.count) left for the next source",
            metadata: ["mirror": "\(baseURL)", "bytes": "\(report.bytesReceived)"])
        guard let (first, error) = left.first else { return report }
        if let local = left.lazy.map(\.1).first(where: { [.io, .locked, .cancelled, .limitExceeded].contains($0.code) })
        {
            throw local  // the disk, a lock, the run's limits: the next source would meet them too
        }
        let missing = left.count { $0.1.code == .notFound }
        // All missing: the mirror is behind. Otherwise the first other failure says whether it is down or damaged.
        let other = left.lazy.map(\.1).first { $0.code != .notFound }
        let why = other.map { ": " + $0.message } ?? " (HTTP 404)"
        throw SourceFailure(
            other.map { SourceFailure(classifying: $0).reason } ?? .notFound,
            SmartSyncError(
                other?.code ?? .notFound,
                "the mirror \(baseURL) lacks \(missing) and could not use "
                    + "\(left.count - missing) of the \(wanted.count) "
                    + "blobs it was asked for, first '\(first.path)' (\(first.id.abbreviated()))\(why)",
                hint: other?.hint, cause: other ?? error, httpStatus: other?.httpStatus),
            report: report)
    }

    /// One blob from `objects/`: a 404 leaves it for the next source; bytes that fail verification are discarded and
    /// asked once more from byte 0, then left too. Errors that are no answer of the mirror's (the network after the
    /// retries, the disk, the run's limits) leave it as well, with their code, for the caller to sort.
    private func fetchObject(_ want: BlobWant, store: ObjectStore, progress: FetchProgress) async -> BlobOutcome {
        let url = url("objects/" + Self.split(want.id))
        var bytes = 0
        var lastError = SmartSyncError(.integrity, "blob \(want.id) was not fetched")
        for attempt in 0..<2 {
            let sink = StoreSink(store: store, want: want, progress: progress, budget: storeBudget)
            do {
                let response = try await download.run(url, hostKind: HostKind.mirror.rawValue, into: sink)
                guard (200..<300).contains(response.status) else {
                    sink.suspend()
                    let error = fileError(response.status, what: "blob \(want.id) ('\(want.path)')", url: url)
                    logger.debug(
                        "mirror \(baseURL): no blob \(want.id.abbreviated()) ('\(want.path)'), HTTP \(response.status)",
                        metadata: ["mirror": "\(baseURL)"])
                    return .leftOver(error, bytes: bytes + sink.received)
                }
                try sink.finish()
                progress.blobDone(want)
                return .stored(bytes: bytes + sink.received, refetched: attempt > 0)
            } catch let error as SmartSyncError where error.code == .integrity {
                logger.debug(
                    "mirror \(baseURL): '\(want.path)' did not match its blob id; discarded",
                    metadata: ["mirror": "\(baseURL)", "blob": "\(want.id.abbreviated())", "attempt": "\(attempt)"])
                bytes += sink.received
                sink.discard()
                lastError = SmartSyncError(
                    .integrity,
                    "the mirror \(baseURL) served blob \(want.id) ('\(want.path)') with other content twice; discarded",
                    hint: "the mirror or a cache in front of it altered the file", cause: error)
            } catch {
                sink.suspend()  // a large object keeps what arrived, for the next source or run
                let failure =
                    error as? SmartSyncError ?? SmartSyncError(.cancelled, "the download of \(url) was cancelled")
                return .leftOver(failure, bytes: bytes + sink.received)
            }
        }
        return .leftOver(lastError, bytes: bytes)
    }

    /// The shared download loop (retries with jitter, resume, starting over), counted as this mirror's traffic.
    var download: ResumableDownload {
        ResumableDownload(
            engine: engine, retryPolicy: retryPolicy, onRetry: { [self] in announceRetry($0, $1) },
            onRequest: { [self] in
                state.withLock {
                    $0.stats.blobRequests += 1
                    $0.stats.count(.mirror, requests: 1)
                }
            },
            onReceived: { [self] bytes, connections in
                state.withLock {
                    $0.stats.bytesReceived += bytes
                    $0.stats.count(.mirror, bytes: bytes)
                    $0.stats.connections += connections
                }
            })
    }
}
