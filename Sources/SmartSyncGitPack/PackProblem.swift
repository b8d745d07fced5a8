import SmartSyncCore

/// A defect found while reading one pack entry, before the importer adds the entry's offset and the pack's path.
///
/// Lower layers (input, headers, inflate, deltas) throw this; ``PackImporter`` turns it into a ``SmartSyncError``.
struct PackProblem: Error, Sendable {
    /// `.malformedResponse` for bytes that are not a valid pack, `.integrity` for content that fails a check.
    var code: SmartSyncError.Code
    /// What is wrong, as a clause ("the zlib stream is corrupt").
    var text: String
    /// The pack is well formed but holds what was not asked for, or more than its ``PackLimits`` allow: refused,
    /// not damaged (fetching it again would not help).
    var isRefusal = false
    /// How to fix it, when the operator can (a limit of theirs).
    var hint: String?

    init(_ code: SmartSyncError.Code, _ text: String) {
        self.code = code
        self.text = text
    }

    /// A pack refused for what it holds (`.malformedResponse`, or `.limitExceeded` for the run's own limit).
    static func refused(
        _ text: String, code: SmartSyncError.Code = .malformedResponse, hint: String? = nil
    ) -> PackProblem {
        var problem = PackProblem(code, text)
        problem.isRefusal = true
        problem.hint = hint
        return problem
    }

    /// A `.malformedResponse` problem.
    init(_ text: String) {
        self.init(.malformedResponse, text)
    }

    /// The pack ends where more bytes were needed.
    static func truncated(_ what: String) -> PackProblem {
        PackProblem(.malformedResponse, "the pack is truncated: it ends inside \(what)")
    }
}
