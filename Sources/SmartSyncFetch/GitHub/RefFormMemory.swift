import Foundation
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Remembers which full ref a short `--ref` name resolved to over the REST API (`main` → `refs/heads/main`), so that
/// the next run asks for that one form first: an unchanged branch then costs one conditional request (one `304`)
/// instead of one per form the name may take (``RefName/candidates``).
///
/// `<cache>/ref-form-<hash of the key>.json`, a ``JSONRecord`` (format `smart-sync-ref-form`), beside the validators
/// whose `304`s it relies on. The key is the repository's API root and the name as given. A missing, damaged or
/// stale entry (older than ``lifetime``) only costs the full lookup, which writes it again.
///
/// What it trades: while the remembered ref answers `304`, the other forms are not asked. A tag created with the
/// name of a branch the name resolved to (which git would take first, and which ``RefName/match(in:source:)``
/// refuses as ambiguous) is noticed when the branch moves (its `200` makes the run ask every form again) or when the
/// entry is a day old, not at once. The pack transport asks every form in its one `ls-refs` and is not affected.
struct RefFormMemory: Sendable {
    let path: String?
    /// Seconds an entry is trusted before every form is asked again.
    static let lifetime: Double = 24 * 3600

    /// The entry for `name` in the repository at `repositoryAPI`, in `directory` (nil: nothing is remembered).
    init(directory: String?, repositoryAPI: String, name: String) {
        path = directory.map {
            $0 + "/ref-form-" + ObjectID.hash(.blob, Array((repositoryAPI + "\n" + name).utf8)).abbreviated(16)
                + ".json"
        }
        key = repositoryAPI + "\n" + name
    }

    let key: String

    /// The file's record.
    struct Entry: JSONRecord, Equatable {
        static let format = "smart-sync-ref-form"
        static let version = 1
        /// The repository's API root and the name, as given (guards against a hash collision).
        var key: String
        /// The full ref the name resolved to (`refs/heads/main`).
        var ref: String
        /// When it was found by asking every form, seconds since the epoch.
        var savedAt: Double
    }

    /// The full ref the name resolved to last, unless absent, damaged, of another key or older than ``lifetime``.
    func load(now: Date = Date()) -> String? {
        guard let path, let entry = try? Entry.read(at: path)?.record, entry.key == key,
            now.timeIntervalSince1970 - entry.savedAt < Self.lifetime, entry.savedAt <= now.timeIntervalSince1970
        else { return nil }
        return entry.ref
    }

    /// Remembers that every form was asked and the name resolved to `ref` (best effort: a cache).
    func store(_ ref: String, now: Date = Date()) {
        guard let path else { return }
        try? Entry(key: key, ref: ref, savedAt: now.timeIntervalSince1970).write(to: path)
    }

    /// Forgets the name's form (it resolved to no ref, or to a commit).
    func clear() {
        guard let path else { return }
        unlink(path)
    }
}
