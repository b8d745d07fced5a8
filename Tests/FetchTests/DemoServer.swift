import Foundation
import SmartSyncObjectStore
import TestSupport

/// The demo repository behind the test server as `octo/demo` (and under each of `aliases` too), with a fresh store
/// in a temporary directory: what the source suites fetch from and into.
struct DemoServer {
    let demo: Demo
    let server: FakeGitHub
    let dir: TemporaryDirectory
    let store: ObjectStore

    /// - Parameters:
    ///   - aliases: more `owner/name`s serving the same repository (requests the log tells apart).
    ///   - privateRepos: whether every name needs `token`.
    init(prefix: String, aliases: [String] = [], privateRepos: Bool = false, token: String? = nil) throws {
        setenv("NO_PROXY", "127.0.0.1,localhost", 1)
        demo = try Demo(bare: true)
        let names = ["octo/demo"] + aliases
        let repository = demo.repo.path
        server = try FakeGitHub(
            repos: Dictionary(uniqueKeysWithValues: names.map { ($0, repository) }),
            privateRepos: privateRepos ? names : [], token: token)
        dir = try TemporaryDirectory(prefix: prefix)
        store = try ObjectStore(root: dir.appending("store"))
    }
}
