import Logging
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer
import Synchronization

extension GitHubSource {
    /// Fetches blobs from the raw host (`{raw}/{owner}/{repo}/{commit}/{path}`), many at once through the
    /// engine, each streamed into the store and verified. A blob that fails verification is fetched once more.
    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws
        -> FetchReport
    {
        var seen = Set<ObjectID>()
        let wanted = blobs.filter { seen.insert($0.id).inserted && !store.contains($0.id) }
        var report = FetchReport()
        // A bounded window of tasks; the engine applies the real per-host and global caps.
        let window = 256
        try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            var next = 0
            func addNext() {
                guard next < wanted.count else { return }
                let want = wanted[next]
                next += 1
                group.addTask { try await self.fetchBlob(want, commit: ref.commit, store: store, progress: progress) }
            }
            for _ in 0..<min(window, wanted.count) { addNext() }
            while let (bytes, refetched) = try await group.next() {
                report.blobsFetched += 1
                report.bytesReceived += bytes
                if refetched { report.refetched += 1 }
                addNext()
            }
        }
        return report
    }

    /// One blob: raw host first; a private repository's blob through the API when the raw host refuses. Without a
    /// raw host (GitHub Enterprise without `--raw-url`), through the API's blobs endpoint alone.
    ///
    /// The bytes go into the store's partial for the blob, so retries (and, for large blobs, a later run) continue
    /// where the last attempt stopped. A blob that fails verification is dropped and fetched once more from 0.
    private func fetchBlob(_ want: BlobWant, commit: ObjectID, store: ObjectStore, progress: FetchProgress) async throws
        -> (Int, Bool)
    {
        let rawURL = location.rawURL.map {
            $0 + "/" + URLPath.encodeSegment(location.owner) + "/" + URLPath.encodeSegment(location.repository) + "/"
                + commit.hex + "/" + URLPath.encodePath(want.path)
        }
        let blobsAPI = location.repoAPI + "/git/blobs/" + want.id.hex
        var bytes = 0
        var lastError: SmartSyncError?
        for attempt in 0..<2 {
            let sink = StoreSink(store: store, want: want, progress: progress, budget: storeBudget)
            do {
                var from = rawURL ?? blobsAPI
                var response = try await download(from, accept: rawURL == nil ? Self.rawBlob : nil, into: sink)
                if rawURL != nil, response.status == 404 || response.status == 403, token != nil {
                    // Private repositories: the raw host may refuse API tokens; the blobs API serves raw bytes too.
                    logger.debug(
                        "'\(want.path)': the raw host answered \(response.status), asking the blobs API",
                        metadata: ["blob": "\(want.id.abbreviated())"])
                    from = blobsAPI
                    response = try await download(from, accept: Self.rawBlob, into: sink)
                }
                guard (200..<300).contains(response.status) else {
                    throw blobError(response, want: want, url: from)
                }
                try sink.finish()
                progress.blobDone(want)
                return (bytes + sink.received, attempt > 0)
            } catch let error as SmartSyncError where error.code == .integrity {
                logger.debug(
                    "'\(want.path)' did not match its blob id; discarded, fetching it once more from byte 0",
                    metadata: ["blob": "\(want.id.abbreviated())"])
                bytes += sink.received
                sink.discard()  // fetch once more, from byte 0
                lastError = error
            } catch {
                sink.suspend()  // keep what arrived for the next run
                throw error
            }
        }
        throw SmartSyncError(
            .integrity,
            "'\(want.path)' did not match its blob id \(want.id) twice in a row, so it was discarded and nothing was "
                + "changed. A proxy or mirror may be altering content",
            hint: "check --raw-url",
            cause: lastError)
    }

    /// The blobs endpoint's media type for the blob's bytes.
    static let rawBlob = "application/vnd.github.raw"

    private func blobError(_ response: TransferResponse, want: BlobWant, url: String) -> SmartSyncError {
        let what =
            "could not download '\(want.path)' (blob \(want.id.abbreviated())): HTTP \(response.status) from \(url)"
        switch response.status {
        case 401:
            return SmartSyncError(
                .unauthorized, "\(what): the token was rejected",
                hint: "check GH_TOKEN / GITHUB_TOKEN / ~/.config/github/token: it may be expired or revoked")
        case 404:
            return SmartSyncError(
                .notFound, what, hint: token == nil ? "for a private repository set a token (GH_TOKEN)" : nil)
        case 403, 429:
            if RateLimitState.isPrimaryLimit(response) || response.status == 429 {
                return GitHubJSON.error(
                    for: response, endpoint: "GET " + url, subject: "blob '\(want.path)'", authenticated: token != nil)
            }
            return SmartSyncError(
                .http, what, hint: token == nil ? "for a private repository set a token (GH_TOKEN)" : nil,
                httpStatus: response.status)
        default:
            return SmartSyncError(.http, what, hint: "try again later or check --raw-url", httpStatus: response.status)
        }
    }

    /// Downloads `url` into `sink` through the shared ``ResumableDownload`` (retries, resume, starting over), counting
    /// the requests and bytes as the API's (the blobs endpoint, asked with an `Accept` header) or the raw host's.
    private func download(_ url: String, accept: String?, into sink: StoreSink) async throws -> TransferResponse {
        let host: HostKind = accept != nil ? .api : .raw
        let download = ResumableDownload(
            engine: engine, retryPolicy: retryPolicy, onRetry: { [self] in announceRetry($0, $1) },
            onRequest: { [self] in
                stats.withLock {
                    $0.blobRequests += 1
                    $0.count(host, requests: 1)
                }
            },
            onReceived: { [self] bytes, connections in
                stats.withLock {
                    $0.bytesReceived += bytes
                    $0.count(host, bytes: bytes)
                    $0.connections += connections
                }
            })
        return try await download.run(
            url, headers: accept.map { [HTTPHeader("Accept", $0)] } ?? [], authorization: token?.authorizationHeader,
            hostKind: host.rawValue, into: sink)
    }
}
