import SmartSyncCore
extension FailoverPolicy {
    /// Mirrors in order, then the origin (`--mirror`): a mirror that errs, lacks a file, or serves bytes that fail
    /// verification moves the run on to the next mirror and at last to the origin.
    ///
    /// Everything moves on but local problems (the disk, a lock, cancellation) and the operator's limits
    /// (`--max-download`, `--request-timeout`), which the next source would meet too. A mirror that is down
    /// (unreachable, 5xx after the retries, rate-limited) is left for the rest of the run; one that only lacks or
    /// damaged something is left for that call alone, so the next ref of a `warm` asks it again. A failure of the last
    /// source surfaces unchanged.
    public static let mirror = FailoverPolicy(
        movesOn: [.unreachable, .serverError, .rateLimited, .notFound, .answered, .unusable, .delegated],
        describe: { failure, call in
            let what =
                call == .resolve
                ? "the signed refs" : call == .listing ? "the listing" : call == .fetch ? "blobs" : "a commit"

            switch failure.reason {
            case .unreachable, .serverError, .rateLimited:
                return "a mirror is down for \(what) (\(failure.error.message)); left for the rest of the run"
            case .notFound: return "a mirror lacks \(what) (\(failure.error.message))"
            default: return "a mirror served \(what) that could not be used (\(failure.error.message))"
            }
        },
        announcement: { reason, _ in "\(reason); trying the next source" },
        movesOnForThisCall: [.notFound, .answered, .unusable, .delegated])
}
