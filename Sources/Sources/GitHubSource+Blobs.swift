import GitObjects
import ObjectStore
import SmartSyncCore
import Transfer

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

    /// One blob: raw host first; a private repository's blob through the API when the raw host refuses.
    private func fetchBlob(_ want: BlobWant, commit: ObjectID, store: ObjectStore, progress: FetchProgress) async throws
        -> (Int, Bool)
    {
        let rawURL =
            location.rawURL + "/" + URLPath.encodeSegment(location.owner) + "/"
            + URLPath.encodeSegment(location.repository) + "/" + commit.hex + "/" + URLPath.encodePath(want.path)
        var bytes = 0
        var lastError: SmartSyncError?
        for attempt in 0..<2 {
            let sink = StoreSink(store: store, want: want, progress: progress)
            var response: TransferResponse
            do {
                response = try await blobRequest(rawURL, accept: nil, sink: sink)
                if (response.status == 404 || response.status == 403), token != nil {
                    // Private repositories: the raw host may refuse API tokens; the blobs API serves raw bytes too.
                    let apiURL = location.repoAPI + "/git/blobs/" + want.id.hex
                    response = try await blobRequest(apiURL, accept: "application/vnd.github.raw", sink: sink)
                }
            } catch {
                bytes += sink.received
                sink.discard()
                // The sink stopped the transfer (too long, disk full, ...): report its reason, not the abort.
                guard let failure = sink.failure else { throw error }
                if failure.code == .integrity {
                    lastError = failure
                    continue
                }
                throw failure
            }
            bytes += sink.received
            guard (200..<300).contains(response.status) else {
                sink.discard()
                let hint = token == nil ? " For a private repository set a token (GH_TOKEN)." : ""
                throw SmartSyncError(
                    response.status == 404 ? .notFound : .http,
                    "could not download '\(want.path)' (blob \(want.id.abbreviated())): HTTP \(response.status) from \(rawURL).\(hint)"
                )
            }
            do {
                try sink.finish()
                progress.blobDone(want)
                return (bytes, attempt > 0)
            } catch let error as SmartSyncError where error.code == .integrity {
                lastError = error  // discarded by the writer; fetch once more
            }
        }
        throw SmartSyncError(
            .integrity,
            "'\(want.path)' did not match its blob id \(want.id) twice in a row, so it was discarded and nothing was changed. A proxy or mirror may be altering content; check --raw-url",
            cause: lastError)
    }

    private func blobRequest(_ url: String, accept: String?, sink: StoreSink) async throws -> TransferResponse {
        var headers: [HTTPHeader] = []
        if let accept { headers.append(HTTPHeader("Accept", accept)) }
        let response = try await engine.perform(
            TransferRequest(url: url, headers: headers, authorization: token?.authorizationHeader, sink: .stream(sink)))
        stats.withLock {
            $0.blobRequests += 1
            $0.bytesReceived += response.bytesReceived
            $0.connections += response.newConnections
        }
        return response
    }
}
