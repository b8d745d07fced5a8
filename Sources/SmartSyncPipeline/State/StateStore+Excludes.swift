import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// The exclude globs of a target's state (``TargetState/excludes``), in `targets/<key>/excludes`, out of the state
/// file so that the state and intent files stay as a release before them writes and reads them.
///
/// The file is tagged with the commit and `appliedAtNs` of the state (or intent) it was written for and counts only
/// for a state with both: a kill between its write and the state's record leaves a tag the recorded state does not
/// have, read as unknown (nil: a run at that commit lists it anew). No file reads as no excludes (a state written
/// before them, or by an apply without any: the behaviour of the release before them, until the next apply). It is
/// written only when there are excludes, or when a file is there to be replaced (an apply without excludes after one
/// with: tagged with no globs); an unknown set (nil, e.g. a rolled-back generation's state) is written as such.
extension StateStore {
    static let excludesMagic: StaticString = "SSEX"

    /// Where `target`'s exclude globs live.
    func excludesPath(for target: String) -> String { directory(for: target) + "/excludes" }

    /// Writes `state`'s excludes for it: called before the state or intent is written, whose record they then
    /// describe. A file replaced goes unsynced when the record it describes does (`durable` false: the staged
    /// switch's intent, made durable by the stage's sync): lost or torn by a power cut, the one left has the old
    /// state's tag or none readable, and reads as unknown. A file created is always durable: lost, it would read as
    /// no excludes for a state applied with some.
    func saveExcludes(of state: TargetState, durable: Bool = true) throws {
        let path = excludesPath(for: state.target)
        var st = stat()
        let exists = lstat(path, &st) == 0
        if state.excludes == [] && !exists { return }
        try FileSystem.writeFileAtomically(path, Self.encodedExcludes(of: state), durable: durable || !exists)
        try checkpoint("excludes-saved")
    }

    /// The file's bytes for `state`'s excludes: its commit and `appliedAtNs` (the tag), whether they are known (u32 1
    /// or 0), their count (u32) and each glob (its length, its UTF-8).
    static func encodedExcludes(of state: TargetState) -> [UInt8] {
        var w = BinaryWriter(magic: excludesMagic, version: 1)
        w.append(state.commit)
        w.append(state.appliedAtNs)
        w.append(UInt32(state.excludes == nil ? 0 : 1))
        let globs = state.excludes ?? []
        w.append(UInt32(globs.count))
        for glob in globs { w.append(glob) }
        return w.finish()
    }

    /// The excludes recorded for `state` (read from its target's directory): none without a file, nil (unknown) when
    /// the file is damaged, says unknown, or was written for another state.
    func loadExcludes(of state: TargetState) -> [String]? {
        let read: (bytes: [UInt8], mtimeNs: Int64)?
        do { read = try FileSystem.readFileIfPresent(excludesPath(for: state.target)) } catch { return nil }
        guard let bytes = read?.bytes else { return [] }
        return bytes.withUnsafeBufferPointer { buffer -> [String]? in
            guard var r = BinaryReader(buffer, magic: Self.excludesMagic, version: 1),
                r.readID() == state.commit, r.readInt64() == state.appliedAtNs, r.readUInt32() == 1,
                let count = r.readUInt32()
            else { return nil }
            var globs: [String] = []
            for _ in 0..<count {
                guard let glob = r.readString() else { return nil }
                globs.append(glob)
            }
            return r.isAtEnd ? globs : nil
        }
    }
}
