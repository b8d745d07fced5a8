import Glibc
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// gc on a real store, state directories and sidecars: every root kept, everything else freed.
@Suite(.serialized) struct StoreGCTests {
    /// A repository whose commits each add files of their own, synced and warmed into one store.
    final class World: @unchecked Sendable {
        let dir: TemporaryDirectory
        let repo: GitFixture
        let store: ObjectStore
        let state: StateStore
        var commits: [String: String] = [:]

        init() throws {
            dir = try TemporaryDirectory(prefix: "sync-tests")
            repo = try GitFixture()
            store = try ObjectStore(root: dir["store"])
            state = try StateStore(root: dir["state"])
            for name in ["A", "B", "C", "D", "E"] {
                try repo.write("shared.nix", "shared\n")
                try repo.write("only-\(name).nix", "only in \(name)\n")
                try repo.write("changes.nix", "changes in \(name)\n")
                try repo.write("bin/tool-\(name)", "#!/bin/sh\necho \(name)\n", executable: true)
                commits[name] = try repo.commit(name)
                try repo.remove("only-\(name).nix")
                try repo.remove("bin/tool-\(name)")
            }
        }

        deinit { dir.remove() }

        func runner(state: StateStore? = nil) async throws -> SyncRunner {
            var runner = SyncRunner(
                source: try await LocalGitSource(path: repo.path), store: store, state: state ?? self.state)
            runner.commitPolicy = CommitPolicy(allowDowngrade: true)  // the tests go back to older commits
            return runner
        }

        /// The blob ids that only commit `name` has.
        func own(_ name: String) -> [ObjectID] {
            [blob("only in \(name)\n"), blob("changes in \(name)\n"), blob("#!/bin/sh\necho \(name)\n")]
        }

        /// Copies commit `name`'s commit and tree objects from the repository into the store, as a pack would.
        func storeCommitAndTrees(_ name: String) throws -> [ObjectID] {
            let commit = commits[name]!
            var ids: [(String, ObjectKind)] = [(commit, .commit), (try repo.revParse(commit + "^{tree}"), .tree)]
            for line in try repo.git("ls-tree", "-r", "-t", commit).split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields[1] == "tree" { ids.append((String(fields[2].prefix(40)), .tree)) }
            }
            return try ids.map { id, kind in
                try store.insert(try repo.gitResult(["cat-file", kind.rawValue, id]).stdout, kind: kind)
            }
        }

        func gc(grace: Int64 = 0, keepLocalAge: Int64 = 90 * 86400, dryRun: Bool = false) async throws -> (
            StoreGC.Report, [StoreGC.Removal]
        ) {
            var options = StoreGC.Options()
            options.grace = grace
            options.keepLocalAge = keepLocalAge
            options.dryRun = dryRun
            var removals: [StoreGC.Removal] = []
            let report = try await StoreGC(store: store, state: state).run(options, visit: { removals.append($0) })
            return (report, removals)
        }

        func has(_ id: ObjectID) -> Bool { FileSystem.exists(store.path(for: id)) }
    }

    @Test func rootsAreKeptAndEverythingElseIsFreed() async throws {
        let w = try World()
        let runner = try await w.runner()
        let t1 = w.dir["t1"]
        // t1: A, then an operator's edit, then B: generation A, a kept local version, the current state B.
        _ = try await runner.sync(.init(ref: w.commits["A"], target: t1))
        try TestFiles.write(t1 + "/changes.nix", "the operator's edit\n")
        _ = try await runner.sync(.init(ref: w.commits["B"], target: t1))
        // A second state directory (recorded as using the store) has target t2 at C.
        let otherState = try StateStore(root: w.dir["other-state"])
        StoreUsers(store: w.store).register(otherState)
        _ = try await w.runner(state: otherState).sync(.init(ref: w.commits["C"], target: w.dir["t2"]))
        // D is pinned; E only warmed; a stray object and an old kept version of t1.
        _ = try await runner.warm(refs: [w.commits["D"]], pin: true)
        _ = try await runner.warm(refs: [w.commits["E"]])
        let stray = try w.store.insert(Array("nobody's\n".utf8))
        let expired = try w.store.insert(Array("kept long ago\n".utf8))
        try KeptVersionLog(state: w.state, target: t1).append([
            KeptVersion(timeNs: 1_000_000_000, mode: .regular, id: expired, replacedBy: nil, path: "changes.nix")
        ])
        // B's commit and trees are in the store as a pack leaves them; E's too (not a root).
        let bMeta = try w.storeCommitAndTrees("B")
        let eMeta = try w.storeCommitAndTrees("E")
        let operatorEdit = blob("the operator's edit\n")

        // Within the grace period no object goes; the expired record leaves the log.
        let (young, _) = try await w.gc(grace: 3600)
        #expect(young.sweep.removed == 0 && young.sweep.keptYoung > 0)
        #expect(young.expiredKeptVersions == 1)

        // A dry run lists E's content, the stray and the expired version, and removes nothing.
        let (dry, listed) = try await w.gc(dryRun: true)
        let wouldGo = Set(
            listed.compactMap { r -> ObjectID? in
                if case .object(let o) = r, !o.isTwin { return o.id } else { return nil }
            })
        let garbage = Set(w.own("E") + [stray, expired] + eMeta.filter { !bMeta.contains($0) })
        #expect(
            wouldGo == garbage, "unexpected: \(wouldGo.subtracting(garbage)); kept: \(garbage.subtracting(wouldGo))")
        #expect(garbage.allSatisfy(w.has))

        let (report, _) = try await w.gc()
        #expect(report.sweep.removed == dry.sweep.removed && report.freedBytes > 0)
        #expect(report.roots[.target] == 2 && report.roots[.generation] == 1 && report.roots[.pin] == 1)
        #expect(report.roots[.keptVersion] == 1)
        #expect(report.stateDirectories.count == 2)
        for id in garbage { #expect(!w.has(id), "\(id) was not removed") }
        for name in ["A", "B", "C", "D"] {
            for id in w.own(name) { #expect(w.has(id), "\(name)'s \(id) was removed") }
        }
        for id in bMeta + [operatorEdit, blob("shared\n")] { #expect(w.has(id)) }
        // The executable twins of kept blobs stay; the log forgot the expired record only.
        #expect(FileSystem.exists(w.store.path(for: blob("#!/bin/sh\necho B\n")) + ".x"))
        #expect(try KeptVersionLog(state: w.state, target: t1).load().map(\.id) == [operatorEdit])

        // Rollback and restore need nothing gc removed; syncs to every root commit download nothing.
        _ = try Rollback.run(target: t1, to: nil, state: w.state, store: w.store)  // back to A, from its generation
        #expect(TestFiles.read(t1 + "/only-A.nix") == "only in A\n")
        _ = try Restore.run(path: "changes.nix", target: t1, store: w.store, state: w.state)
        #expect(TestFiles.read(t1 + "/changes.nix") == "the operator's edit\n")
        let t2State = try #require(try otherState.load(target: w.dir["t2"]))
        #expect(try TargetVerifier().verify(target: w.dir["t2"], manifest: t2State.manifest, store: w.store).isIntact)
        for name in ["B", "D", "C", "A"] {
            let outcome = try await runner.sync(.init(ref: w.commits[name], target: t1))
            #expect(
                outcome.fetch.blobsFetched == 0, "the sync to \(name) downloaded \(outcome.fetch.blobsFetched) blobs")
            #expect(TestFiles.read(t1 + "/only-\(name).nix") == "only in \(name)\n")
        }
    }

    @Test func theStateOfAVanishedTargetIsForgottenUnlessItHasGenerationsOrRecentKeptVersions() async throws {
        let w = try World()
        let runner = try await w.runner()
        let (gone, rolled, kept) = (w.dir["gone"], w.dir["only-generations"], w.dir["with-kept"])
        _ = try await runner.sync(.init(ref: w.commits["A"], target: gone))
        _ = try await runner.sync(.init(ref: w.commits["A"], target: rolled))
        _ = try await runner.sync(.init(ref: w.commits["B"], target: rolled))
        _ = try await runner.sync(.init(ref: w.commits["C"], target: kept))
        try TestFiles.write(kept + "/changes.nix", "edited\n")
        _ = try await runner.sync(.init(ref: w.commits["D"], target: kept))
        for dir in [gone, rolled, kept] { TemporaryDirectory.removeTree(dir) }
        TemporaryDirectory.removeTree(SwitchLayout(target: gone).sidecar)
        TemporaryDirectory.removeTree(SwitchLayout(target: kept).sidecar)
        // A state directory that remembers nothing (a lock and a stat cache only).
        let empty = w.state.directory(for: w.dir["never-synced"])
        _ = try w.state.lock(target: w.dir["never-synced"])

        let (dry, listed) = try await w.gc(dryRun: true)
        #expect(dry.forgottenTargets == 2)
        #expect(FileSystem.exists(w.state.directory(for: gone)))
        let (report, removals) = try await w.gc()
        #expect(report.forgottenTargets == 2 && removals.count == listed.count)
        #expect(!FileSystem.exists(w.state.directory(for: gone)) && !FileSystem.exists(empty))
        #expect(try w.state.load(target: rolled) != nil)
        #expect(try w.state.load(target: kept) != nil)
        // The forgotten target's content went with it; the others' stayed.
        #expect(w.own("A").allSatisfy(w.has))  // A is the generation of the target whose sidecar stays
        #expect(w.own("C").allSatisfy { !w.has($0) })  // C was in the removed sidecar only
        #expect(w.has(blob("edited\n")) && w.own("D").allSatisfy(w.has))
        // Past the keep-local age the kept target is forgotten too.
        let (late, _) = try await w.gc(keepLocalAge: 0)
        #expect(late.forgottenTargets == 1 && !w.has(blob("edited\n")))
    }
}

@Suite struct StoreLeftoversTests {
    @Test func staleLeftoversGoAndWhatARunHoldsOrMayResumeStays() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let (tmp, partials) = (store.temporaryDirectory, store.partialsDirectory)
        try TestFiles.write(tmp + "/0123-abandoned-write", "half an object")
        try TestFiles.write(tmp + "/clone-1234/.git/HEAD", "ref: refs/heads/main\n")
        try TestFiles.write(tmp + "/pack-held.pack", "PACK being written")
        try TestFiles.write(tmp + "/pack-killed.pack", "PACK cut short")
        let held = open(tmp + "/pack-held.pack", O_RDONLY)
        defer { close(held) }
        #expect(flock(held, LOCK_EX) == 0)
        let complete = try store.insert(Array("complete\n".utf8))
        let resumable = blob("a large download\n")
        for id in [complete, resumable] {
            try TestFiles.write(partials + "/" + id.hex, "part")
            try TestFiles.write(partials + "/" + id.hex + ".meta", "meta")
        }
        try TestFiles.write(partials + "/" + blob("orphan").hex + ".meta", "meta without data")
        let (quarantined, stillLinked) = ("quarantine/\(complete.hex).1", "quarantine/\(resumable.hex).2")
        for stem in [quarantined, stillLinked] {
            try TestFiles.write(store.root + "/" + stem, "damaged")
            try TestFiles.write(store.root + "/" + stem + ".why", "object quarantined at 1: fsck\n")
        }
        try TestFiles.write(store.root + "/" + quarantined + ".x", "damaged twin")
        // A target still links the second one's damaged inode: the quarantine's link names it as damaged.
        #expect(link(store.root + "/" + stillLinked, dir["target-file"]) == 0)

        func clean(after seconds: Int64) -> Set<String> {
            var gone = Set<String>()
            StoreLeftovers(
                store: store, nowNs: Timestamps.nowNs() + seconds * 1_000_000_000, graceNs: 3600 * 1_000_000_000,
                partialAgeNs: 7 * 86400 * 1_000_000_000, quarantineAgeNs: 30 * 86400 * 1_000_000_000, dryRun: false
            ).clean { gone.insert(String($0.path.dropFirst(store.root.count + 1))) }
            return gone
        }
        #expect(clean(after: 0).isEmpty)
        #expect(
            clean(after: 7200) == [
                "tmp/0123-abandoned-write", "tmp/clone-1234", "tmp/pack-killed.pack", "partials/\(complete.hex)",
                "partials/\(complete.hex).meta", "partials/\(blob("orphan").hex).meta",
            ])
        #expect(
            clean(after: 31 * 86400) == [
                "partials/\(resumable.hex)", "partials/\(resumable.hex).meta", quarantined, quarantined + ".x",
                quarantined + ".why",
            ])
        #expect(
            FileSystem.exists(store.root + "/" + stillLinked)
                && FileSystem.exists(store.root + "/" + stillLinked + ".why"))
        // Whatever its age, the spool a process holds stays.
        #expect(FileSystem.exists(tmp + "/pack-held.pack"))
    }

    /// A killed run's spool held for a commit's checks (`held-pack-`) is reported as a spool, as a listing's is, not
    /// as a temporary (found by the review).
    @Test func aHeldPackSpoolIsReportedAsASpool() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let tmp = store.temporaryDirectory
        for name in ["held-pack-1234.pack", "pack-5678.pack", "0123-abandoned-write"] {
            try TestFiles.write(tmp + "/" + name, "left by a killed run")
        }
        var kinds: [String: Leftover.Kind] = [:]
        StoreLeftovers(
            store: store, nowNs: Timestamps.nowNs() + 7200 * 1_000_000_000, graceNs: 3600 * 1_000_000_000,
            partialAgeNs: 7 * 86400 * 1_000_000_000, quarantineAgeNs: 30 * 86400 * 1_000_000_000, dryRun: true
        ).clean { kinds[String($0.path.dropFirst(tmp.count + 1))] = $0.kind }
        #expect(
            kinds == ["held-pack-1234.pack": .spool, "pack-5678.pack": .spool, "0123-abandoned-write": .temporary])
    }
}
