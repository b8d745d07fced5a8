import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

extension PublishGit {
    /// Copies `files` out of the repository through one `git cat-file --batch`, each streamed into a temporary
    /// file in the mirror while it is hashed, checked against its id and kind, then installed. Returns the bytes
    /// written.
    func copy(_ files: [ObjectFile], into out: PublishDirectory) async throws -> Int {
        guard !files.isEmpty else { return 0 }
        let repository = self.repository
        return try await DedicatedThread.run(name: "ss-publish-copy") {
            try Self.catFile(files, repository: repository, into: out)
        }
    }

    private static func catFile(_ files: [ObjectFile], repository: String, into out: PublishDirectory) throws -> Int {
        try ProcessRunner.withCatFileBatch(files.map(\.id), in: repository) { reader in
            try copy(files, from: reader, repository: repository, into: out)
        }
    }

    private static func copy(
        _ files: [ObjectFile], from reader: PipeReader, repository: String, into out: PublishDirectory
    )
        throws -> Int
    {
        var written = 0
        for file in files {
            let header = try reader.readLine()
            let fields = header.split(separator: " ")
            guard fields.count == 3, fields[1] == file.kind.rawValue, let size = Int(fields[2]), size >= 0 else {
                let problem = header.hasSuffix(" missing") ? "is missing from" : "is no \(file.kind.rawValue) in"
                throw SmartSyncError(
                    .sourceUnavailable, "\(file.kind.rawValue) \(file.id) \(problem) the repository \(repository)",
                    hint: header.hasSuffix(" missing") ? "is it a shallow or partial clone?" : nil)
            }
            try copyOne(file, size: size, from: reader, into: out)
            _ = try reader.readLine()  // the newline after the content
            written += size
        }
        return written
    }

    /// Streams one object's `size` bytes into a temporary file, checks its id, and installs it.
    private static func copyOne(_ file: ObjectFile, size: Int, from reader: PipeReader, into out: PublishDirectory)
        throws
    {
        let (temporary, fd) = try out.createTemporary()
        let shown = out.temporaryPath(temporary)
        let hasher = BlobHasher(kind: file.kind, size: size)
        do {
            try reader.read(count: size) { chunk in
                hasher.update(chunk)
                try FileSystem.writeAll(fd: fd, chunk, path: shown)
            }
            close(fd)
        } catch {
            close(fd)
            out.removeTemporary(temporary)
            throw error
        }
        guard hasher.finalize() == file.id else {
            out.removeTemporary(temporary)
            throw SmartSyncError(
                .integrity, "git cat-file gave bytes for \(file.kind.rawValue) \(file.id) that do not hash to it",
                hint: "check the repository with git fsck")
        }
        try out.install(temporary, as: file.file)
    }
}
