import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import Testing

/// Runs git and returns its trimmed stdout.
func runGit(_ args: [String], in dir: String, stdin: [UInt8]? = nil) throws -> String {
    let r = try ProcessRunner("git", args, environment: ChildEnvironment.current, workingDirectory: dir)
        .runAndWait(input: .bytes(stdin ?? []), output: .capture(limit: 1 << 30), error: .standardError)
    guard r.succeeded else { throw CocoaError(.executableLoad) }
    return r.output
}

@Suite("Blob hashing")
struct HashingTests {
    @Test(arguments: [0, 1, 5, 4096, 10 * 1024 * 1024])
    func blobHashEqualsGitHashObject(size: Int) throws {
        var rng = SystemRandomNumberGenerator()
        let content = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let expected = try runGit(["hash-object", "--stdin"], in: NSTemporaryDirectory(), stdin: content)
        #expect(ObjectID.blob(content).hex == expected)

        // Streaming in uneven chunks gives the same id.
        let hasher = BlobHasher(size: size)
        var i = 0
        while i < size {
            let n = min(size - i, 1 + (i % 65_537))
            content[i..<(i + n)].withUnsafeBytes { hasher.update($0) }
            i += n
        }
        #expect(hasher.finalize()?.hex == expected)
    }

    @Test func hashFileEqualsGit() throws {
        let path = NSTemporaryDirectory() + "hash-" + UUID().uuidString
        defer { unlink(path) }
        let content = Array(repeating: UInt8(ascii: "x"), count: 1_000_003)
        try #require(FileManager.default.createFile(atPath: path, contents: Data(content)))
        let (id, size) = try BlobHasher.hashFile(atPath: path)
        #expect(size == content.count)
        #expect(id.hex == (try runGit(["hash-object", path], in: NSTemporaryDirectory())))
    }

    @Test func hasherDetectsWrongLength() {
        let hasher = BlobHasher(size: 3)
        hasher.update([1, 2])
        #expect(hasher.finalize() == nil)
    }

    @Test func objectIDParsing() {
        #expect(ObjectID(hex: "E69DE29BB2D1D6434B8B29AE775AD8C2E48C5391") == .emptyBlob)
        #expect(ObjectID(hex: "e69de29") == nil)
        #expect(ObjectID(hex: String(repeating: "g", count: 40)) == nil)
        #expect(ObjectID.blob([UInt8]()) == .emptyBlob)
        #expect(ObjectID.emptyBlob.abbreviated(7) == "e69de29")
        #expect(ObjectID(bytes: ObjectID.emptyTree.bytes) == .emptyTree)
    }
}
