import Foundation
import SmartSyncGitObjects
import Testing

@Suite("Commit objects")
struct CommitObjectTests {
    @Test func parsesTreeAndParents() throws {
        let tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        let p1 = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        let p2 = "ce013625030ba8dba906f756967f9e9ca394464a"
        let body = """
            tree \(tree)
            parent \(p1)
            parent \(p2)
            author A <a@example.com> 1704067200 +0000
            committer A <a@example.com> 1704067200 +0000

            parent deadbeef in the message is not a parent

            """
        let commit = try #require(CommitObject.parse(Array(body.utf8)))
        #expect(commit.tree.hex == tree)
        #expect(commit.parents.map(\.hex) == [p1, p2])
    }

    @Test func rootCommitHasNoParents() throws {
        let body = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@b> 0 +0000\n\nmsg\n"
        #expect(CommitObject.parse(Array(body.utf8))?.parents == [])
    }

    @Test(arguments: ["", "parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n", "tree nothex\n", "tree 4b825dc6"])
    func rejectsNonCommits(body: String) {
        #expect(CommitObject.parse(Array(body.utf8)) == nil)
    }

    @Test func objectHasherHashesEveryKind() {
        let content = Array("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nm\n".utf8)
        let hasher = BlobHasher(kind: .commit, size: content.count)
        hasher.update(content)
        #expect(hasher.finalize() == ObjectID.hash(.commit, content))
        #expect(ObjectID.hash(.commit, content) != ObjectID.blob(content))
    }
}
