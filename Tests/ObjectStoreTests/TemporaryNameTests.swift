import Glibc
import SmartSyncFileSystem
import TestSupport
import Testing

/// `FileSystem.temporaryName`: a temporary beside a final name fits `NAME_MAX` whatever that name's length, so a file
/// whose name the file system takes can be written atomically.
@Suite("FileSystem.temporaryName")
struct TemporaryNameTests {
    private func lastComponent(_ path: String) -> Substring.UTF8View {
        path[(path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex)...].utf8
    }

    /// 250 and 255 bytes (ASCII, and with 3-byte characters whose cut must not split one): written, no leftover.
    @Test(arguments: [String(repeating: "n", count: 250), String(repeating: "n", count: 255),
        String(repeating: "n", count: 10) + String(repeating: "\u{20AC}", count: 80) + ".conf"])
    func aFinalNameOfUpToNameMaxIsWrittenAtomically(name: String) throws {
        let dir = try TemporaryDirectory(prefix: "temporary-name")
        defer { dir.remove() }
        let path = dir.appending(name)
        try #require(name.utf8.count <= Int(NAME_MAX))
        try FileSystem.writeFileAtomically(path, Array("saved\n".utf8))
        #expect(TestFiles.read(path) == "saved\n")
        #expect(try FileSystem.names(in: dir.path) == [name])
        try TestFiles.write(dir.appending("source"), "linked\n")
        #expect(try FileSystem.linkOrCopy(from: dir.appending("source"), to: path) == false)  // a file is there
        #expect(TestFiles.read(path) == "linked\n")
    }

    @Test func aLongComponentKeepsItsStartAndEnd() {
        let prefix =
            "/some/dir/" + String(repeating: "a", count: 200) + String(repeating: "z", count: 50) + ".tmp-4242-"
        let name = FileSystem.temporaryName(prefix)
        #expect(name.hasPrefix("/some/dir/aaaa"))
        #expect(lastComponent(name).count <= Int(NAME_MAX))
        #expect(name.contains("zzzz.tmp-4242-"))
        // A short one is left whole.
        #expect(FileSystem.temporaryName("/some/dir/state.tmp-1-").hasPrefix("/some/dir/state.tmp-1-"))
    }
}
