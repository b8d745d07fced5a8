import ArgumentParser
import SmartSyncCore

/// The process exit codes, documented in `--help` and README.
enum ExitCodes {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    /// fsck: damage was found and the store is whole again.
    static let repaired: Int32 = 2
    static let changesPending: Int32 = 3
    static let notFound: Int32 = 4
    static let network: Int32 = 5
    static let refused: Int32 = 6
    static let locked: Int32 = 7
    static let switchedThenFailed: Int32 = 8
    static let usage: Int32 = 64

    static let help = """
        EXIT CODES:
          0   success (plan: the target is up to date; fsck: every object intact)
          1   failure not covered below (I/O error, bad response, internal error)
          2   fsck: damage found, quarantined, and nothing a root needs is missing
          3   plan: changes are pending; verify: something differs; fsck: damage found
              and something a root needs is still missing
          4   repository, ref or path not found, or the token was rejected
          5   network, TLS, HTTP or rate-limit failure (a retry may help)
          6   refused, the target untouched: content failed verification, a
              download went past --max-download or --request-timeout, the tree
              has unsafe paths, local files not ours stand where the tree
              must write, the commit is not a descendant of the target's
              (--allow-downgrade), or its signature does not verify
              (--require-signed-commits); fsck: nothing found missing, but a
              sidecar or switch journal it will not read left its roots unread
          7   another smart-sync run holds the lock on the store or target (syncs wait
              up to 10 minutes for a gc; gc and fsck wait --wait seconds)
          8   the target was switched to the new tree, then a later step failed (recording
              the state, pruning old generations): see the message; the next run finishes it
          64  usage error (bad flags or arguments)
        """

    /// The exit code for an error.
    static func code(for error: SmartSyncError) -> Int32 {
        switch error.code {
        case .notFound, .unauthorized: return notFound
        case .network, .tls, .http, .rateLimited: return network
        case .integrity, .unsafePath, .conflict, .limitExceeded, .refused: return refused
        case .locked: return locked
        case .invalidArgument: return usage
        default: return failure
        }
    }
}
