import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

/// A reply fetched with the curl CLI.
struct CurlReply {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var exitCode: Int32
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
}

/// GETs `url` with curl (no retries, no redirects followed), returning the last response's status, headers, body.
func curl(_ url: String, headers: [String: String] = [:], method: String = "GET") throws -> CurlReply {
    let tmp = try TemporaryDirectory(prefix: "curl")
    var args = ["-s", "-m", "10", "-D", tmp.appending("h"), "-o", tmp.appending("b"), "-w", "%{http_code}"]
    if method == "HEAD" { args.append("-I") } else { args += ["-X", method] }
    for (k, v) in headers.sorted(by: { $0.key < $1.key }) { args += ["-H", "\(k): \(v)"] }
    args.append(url)
    let r = try ProcessRunner.run("curl", args, check: false)
    var parsed: [String: String] = [:]
    let rawHeaders = (try? String(contentsOfFile: tmp.appending("h"), encoding: .utf8)) ?? ""
    for line in rawHeaders.components(separatedBy: "\r\n") {
        if line.hasPrefix("HTTP/") {
            parsed = [:]
            continue
        }
        guard let colon = line.firstIndex(of: ":") else { continue }
        parsed[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let body = (try? Data(contentsOf: URL(fileURLWithPath: tmp.appending("b")))).map { [UInt8]($0) } ?? []
    return CurlReply(status: Int(r.output) ?? 0, headers: parsed, body: body, exitCode: r.status)
}

/// A small repository: text, binary, executable, symlink, nested dirs; two commits on main, a branch, two tags.
struct Demo {
    let repo: GitFixture
    let first: String
    let second: String
    let feature: String
    let bigContent: [UInt8]

    init(bare: Bool = false) throws {
        repo = try GitFixture(bare: bare)
        bigContent = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try repo.write("README.md", "# demo\n")
        try repo.write("bin/run.sh", "#!/bin/sh\necho hi\n", executable: true)
        try repo.symlink("latest", to: "README.md")
        try repo.write("src/deep/nested/file.txt", "nested\n")
        try repo.write("data/big.bin", bigContent)
        first = try repo.commit("first")
        try repo.tag("v1.0", annotated: true, at: first, message: "release 1.0")
        try repo.tag("light", at: first)
        try repo.write("README.md", "# demo, again\n")
        try repo.remove("src/deep/nested/file.txt")
        try repo.write("src/other.txt", "other\n")
        second = try repo.commit("second")
        try repo.checkout("feature/x")
        try repo.write("feature.txt", "feature\n")
        feature = try repo.commit("feature")
        try repo.checkout("main")
    }
}

@Suite(.serialized)
struct GitFixtureTests {
    @Test func commitsAreReproducible() throws {
        var shas: [String] = []
        for bare in [false, true] {
            let repo = try GitFixture(bare: bare)
            try repo.write("a.txt", "alpha\n")
            try repo.write("tool", "#!/bin/sh\n", executable: true)
            try repo.symlink("link", to: "a.txt")
            shas.append(try repo.commit("one"))
            #expect(try repo.currentBranch() == "main")
            let tree = try repo.git("ls-tree", "HEAD")
            #expect(tree.contains("100755 blob") && tree.contains("120000 blob"))
        }
        #expect(shas[0] == shas[1])
        #expect(shas[0].count == 40)
    }

    @Test func archiveMatchesWorkTreeSnapshot() throws {
        let demo = try Demo()
        let archived = try demo.repo.archiveSnapshot(commit: demo.second)
        let work = try DirectorySnapshot(of: demo.repo.workTree, ignoring: [".git"])
        #expect(archived == work, "\(archived.difference(from: work))")
        #expect(archived.entries["bin/run.sh"]?.kind == .executable)
        #expect(archived.entries["latest"]?.symlinkTarget == "README.md")
        #expect(archived.entries["data/big.bin"]?.blob.hex == (try demo.repo.revParse("\(demo.second):data/big.bin")))

        let diff = try demo.repo.archiveSnapshot(commit: demo.first).difference(from: archived)
        #expect(diff.contains("+ src/deep/nested/file.txt") && diff.contains("- src/other.txt"))
        #expect(diff.contains("~ README.md"))
    }
}

@Suite(.serialized)
struct FakeGitHubTests {
    @Test func resolvesRefsLikeGitHub() throws {
        let demo = try Demo(bare: true)
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path])
        let sha = ["Accept": "application/vnd.github.sha"]

        let main = try curl(gh.api("octo/demo", "/commits/main"), headers: sha)
        #expect(main.status == 200 && main.text == demo.second)
        #expect(main.headers["content-type"]?.hasPrefix("application/vnd.github.sha") == true)
        #expect(try curl(gh.api("octo/demo", "/commits/v1.0"), headers: sha).text == demo.first)
        #expect(try curl(gh.api("octo/demo", "/commits/light"), headers: sha).text == demo.first)
        #expect(try curl(gh.api("octo/demo", "/commits/feature/x"), headers: sha).text == demo.feature)
        #expect(try curl(gh.api("octo/demo", "/commits/\(demo.first.prefix(8))"), headers: sha).text == demo.first)
        #expect(try curl(gh.api("octo/demo", "/commits/\(demo.first)"), headers: sha).text == demo.first)
        let unknown = try curl(gh.api("octo/demo", "/commits/nope"), headers: sha)
        #expect(unknown.status == 422)
        #expect(unknown.json["message"] as? String == "No commit found for SHA: nope")

        let json = try curl(gh.api("octo/demo", "/commits/main")).json
        let tree = (json["commit"] as? [String: Any])?["tree"] as? [String: Any]
        #expect(tree?["sha"] as? String == (try demo.repo.revParse("main^{tree}")))
        #expect((json["parents"] as? [[String: Any]])?.first?["sha"] as? String == demo.first)

        let repoJSON = try curl(gh.api("octo/demo")).json
        #expect(repoJSON["default_branch"] as? String == "main")
        #expect(repoJSON["full_name"] as? String == "octo/demo")

        let ref = try curl(gh.api("octo/demo", "/git/ref/tags/v1.0")).json
        let object = ref["object"] as? [String: Any]
        #expect(object?["type"] as? String == "tag")
        let tag = try curl(gh.api("octo/demo", "/git/tags/\(object?["sha"] as? String ?? "")")).json
        #expect((tag["object"] as? [String: Any])?["sha"] as? String == demo.first)
        #expect(try curl(gh.api("octo/demo", "/git/ref/heads/nope")).status == 404)
        #expect(try curl(gh.api("octo/nope", "")).status == 404)
        #expect(gh.serverErrors().isEmpty)
    }

    @Test func recursiveTreeMatchesLsTree() throws {
        let demo = try Demo()
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path])
        let reply = try curl(gh.api("octo/demo", "/git/trees/\(demo.second)?recursive=1"))
        #expect(reply.status == 200)
        #expect(reply.json["truncated"] as? Bool == false)
        #expect(reply.json["sha"] as? String == (try demo.repo.revParse("\(demo.second)^{tree}")))
        let served = (reply.json["tree"] as? [[String: Any]] ?? []).map { e -> String in
            let size = (e["size"] as? Int).map(String.init) ?? "-"
            return "\(e["mode"]!) \(e["type"]!) \(e["sha"]!) \(size)\t\(e["path"]!)"
        }
        let listing = try demo.repo.git("ls-tree", "-r", "-t", "-l", demo.second)
        let expected = listing.split(separator: "\n").map { line -> String in
            // ls-tree pads the size column: normalize "mode type sha   size\tpath".
            let parts = line.split(separator: "\t", maxSplits: 1)
            return parts[0].split(separator: " ").joined(separator: " ") + "\t" + parts[1]
        }
        #expect(served == expected)
        #expect(served.contains { $0.hasPrefix("120000 blob") && $0.hasSuffix("\tlatest") })
        #expect(served.contains { $0.hasPrefix("100755 blob") && $0.hasSuffix("\tbin/run.sh") })
        #expect(served.contains { $0.hasPrefix("040000 tree") && $0.hasSuffix("\tsrc") })

        // By ref name, non-recursively.
        let top = try curl(gh.api("octo/demo", "/git/trees/main")).json["tree"] as? [[String: Any]] ?? []
        #expect(top.map { $0["path"] as? String ?? "" } == ["README.md", "bin", "data", "latest", "src"])
    }

    @Test func truncatesLongRecursiveListings() throws {
        let demo = try Demo()
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path], truncateTreeOver: 3)
        let rec = try curl(gh.api("octo/demo", "/git/trees/\(demo.second)?recursive=1")).json
        #expect(rec["truncated"] as? Bool == true)
        #expect((rec["tree"] as? [Any])?.count == 3)
        let flat = try curl(gh.api("octo/demo", "/git/trees/\(demo.second)")).json
        #expect(flat["truncated"] as? Bool == false)
        #expect((flat["tree"] as? [Any])?.count == 5)
    }

    @Test func conditionalRequestsCostNoQuota() throws {
        let demo = try Demo()
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path])
        let url = gh.api("octo/demo", "/commits/main")
        let first = try curl(url, headers: ["Accept": "application/vnd.github.sha"])
        let etag = try #require(first.headers["etag"])
        #expect(first.headers["x-ratelimit-limit"] == "60")
        #expect(first.headers["x-ratelimit-resource"] == "core")
        let remaining = try #require(first.headers["x-ratelimit-remaining"].flatMap { Int($0) })

        let again = try curl(url, headers: ["Accept": "application/vnd.github.sha", "If-None-Match": etag])
        #expect(again.status == 304 && again.body.isEmpty)
        #expect(again.headers["x-ratelimit-remaining"] == String(remaining))

        let tree = gh.api("octo/demo", "/git/trees/\(demo.second)?recursive=1")
        let full = try curl(tree)
        #expect(full.headers["x-ratelimit-remaining"] == String(remaining - 1))
        let cached = try curl(tree, headers: ["If-None-Match": try #require(full.headers["etag"])])
        #expect(cached.status == 304)
        #expect(cached.headers["x-ratelimit-remaining"] == String(remaining - 1))
    }

    @Test func rawServesRangesAndValidators() throws {
        let demo = try Demo()
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path])
        let url = gh.rawURL("octo/demo", demo.second, "data/big.bin")
        let blob = try demo.repo.revParse("\(demo.second):data/big.bin")

        let whole = try curl(url)
        #expect(whole.status == 200 && whole.body == demo.bigContent)
        #expect(whole.headers["etag"] == "\"\(blob)\"")

        let tail = try curl(url, headers: ["Range": "bytes=4000-"])
        #expect(tail.status == 206 && tail.body == Array(demo.bigContent[4000...]))
        #expect(tail.headers["content-range"] == "bytes 4000-4999/5000")
        let mid = try curl(url, headers: ["Range": "bytes=10-19", "If-Range": "\"\(blob)\""])
        #expect(mid.status == 206 && mid.body == Array(demo.bigContent[10...19]))

        let beyond = try curl(url, headers: ["Range": "bytes=5000-"])
        #expect(beyond.status == 416 && beyond.headers["content-range"] == "bytes */5000")
        let staleTag = "\"0000000000000000000000000000000000000000\""
        let stale = try curl(url, headers: ["Range": "bytes=100-", "If-Range": staleTag])
        #expect(stale.status == 200 && stale.body.count == 5000)

        #expect(try curl(gh.rawURL("octo/demo", "main", "latest")).text == "README.md")
        #expect(try curl(gh.rawURL("octo/demo", "feature/x", "feature.txt")).text == "feature\n")
        #expect(try curl(gh.rawURL("octo/demo", "v1.0", "src/deep/nested/file.txt")).text == "nested\n")
        let missing = try curl(gh.rawURL("octo/demo", "main", "src/deep/nested/file.txt"))
        #expect(missing.status == 404 && missing.text == "404: Not Found")
        let head = try curl(url, method: "HEAD")
        #expect(head.status == 200 && head.headers["content-length"] == "5000")
    }

    @Test func injectsFaults() throws {
        let demo = try Demo()
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path])
        let url = gh.rawURL("octo/demo", "main", "data/big.bin")

        try gh.setFaults(
            #"[{"match": {"listener": "raw", "path_regex": "big\\.bin$"}, "times": 1, "action": {"status": 500, "#
                + #""body": "boom"}}]"#
        )
        let failed = try curl(url)
        #expect(failed.status == 500 && failed.text == "boom")
        #expect(try curl(url).status == 200)

        try gh.setFaults(#"[{"match": {"listener": "raw"}, "action": {"corrupt_byte_at": 3}}]"#)
        let corrupt = try curl(url)
        #expect(corrupt.status == 200 && corrupt.body.count == 5000)
        #expect(ObjectID.blob(corrupt.body).hex != (try demo.repo.revParse("main:data/big.bin")))
        #expect(corrupt.body.count > 3 && corrupt.body[3] == demo.bigContent[3] ^ 1)

        try gh.setFaults(#"[{"match": {"listener": "raw"}, "times": 1, "action": {"reset_after_bytes": 100}}]"#)
        let reset = try curl(url)
        #expect(reset.exitCode != 0 && reset.body.count == 100)

        try gh.setFaults(#"[{"match": {"listener": "api"}, "times": 1, "action": {"status": 429, "retry_after": 7}}]"#)
        let limited = try curl(gh.api("octo/demo", "/commits/main"))
        #expect(limited.status == 429 && limited.headers["retry-after"] == "7")

        try gh.clearFaults()
        #expect(try curl(url).body == demo.bigContent)
        let log = try gh.requests().filter { $0.listener == "raw" }
        #expect(log.map(\.status) == [500, 200, 200, 200, 200])
        #expect(log.count == 5 && log[3].bytes == 100)
    }

    @Test func logsAuthorizationPresenceButNeverTheToken() throws {
        let demo = try Demo()
        let token = "ghp_testtoken123"
        let gh = try FakeGitHub(repos: ["octo/secret": demo.repo.path], privateRepos: ["octo/secret"], token: token)
        #expect(try curl(gh.api("octo/secret")).status == 404)
        #expect(try curl(gh.rawURL("octo/secret", "main", "README.md")).status == 404)
        let ok = try curl(gh.api("octo/secret"), headers: ["Authorization": "Bearer \(token)"])
        #expect(ok.status == 200 && ok.json["private"] as? Bool == true)
        #expect(ok.headers["x-ratelimit-limit"] == "5000")
        let raw = try curl(gh.rawURL("octo/secret", "main", "README.md"), headers: ["Authorization": "token \(token)"])
        #expect(raw.status == 200)
        #expect(try curl(gh.api("octo/secret"), headers: ["Authorization": "Bearer wrong"]).status == 401)

        let log = try gh.requests()
        #expect(log.count == 5)
        #expect(log.map(\.hadAuthorization) == [false, false, true, true, true])
        #expect(log.count > 2 && log[2].headers["authorization"] == "<redacted:present>")
        let text = try String(contentsOfFile: gh.logPath, encoding: .utf8)
        #expect(!text.contains(token))
        try gh.clearLog()
        #expect(try gh.requests().isEmpty)
    }
}
