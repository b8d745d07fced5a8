import Glibc

/// The one error type smart-sync throws.
///
/// Shaped like swift-nio's `FileSystemError`: a stable ``Code`` to branch on, a ``message`` written for the
/// operator (what went wrong, naming the input), a ``hint`` saying how to fix it, and an optional underlying
/// ``cause``.
public struct SmartSyncError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Stable across releases; use it, not the message, to branch.
    public var code: Code
    /// A sentence or two for a human: what failed, on which input, and how to fix it.
    public var message: String
    /// How to fix it, when the message alone does not say (shown after the message).
    public var hint: String?
    /// The lower-level error this one wraps, if any.
    public var cause: (any Error & Sendable)?
    /// The HTTP status that caused a `.http` error, when a server answered; callers branch on it (a 5xx is an
    /// outage, a 4xx an answer), never on the message.
    public var httpStatus: Int?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, hint: String? = nil, cause: (any Error & Sendable)? = nil,
        httpStatus: Int? = nil
    ) {
        self.code = code
        self.message = Self.clause(message)
        self.hint = hint.map(Self.clause)
        self.cause = cause
        self.httpStatus = httpStatus
    }

    /// `text` without a closing period (an ellipsis stays): messages and hints are clauses that others join with
    /// "; " or ": " and that the reporter prints as they are, so a period of their own would double up ("..").
    static func clause(_ text: String) -> String {
        var clause = Substring(text)
        while clause.hasSuffix("."), !clause.hasSuffix("...") { clause.removeLast() }
        return String(clause)
    }

    /// The message and, when there is one, the hint: what an operator reads.
    public var text: String { hint.map { "\(Self.clause(message)); \(Self.clause($0))" } ?? Self.clause(message) }

    public var description: String {
        if let cause {
            return "\(text) (\(code); caused by: \(cause))"
        }
        return "\(text) (\(code))"
    }

    /// A stable error category.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Kind: String, Hashable, Sendable {
            case invalidArgument = "invalid-argument"
            case notFound = "not-found"
            case unauthorized
            case rateLimited = "rate-limited"
            case network
            case tls
            case http
            case malformedResponse = "malformed-response"
            case integrity
            case unsafePath = "unsafe-path"
            case io
            case locked
            case sourceUnavailable = "source-unavailable"
            case cancelled
            case conflict
            case commandFailed = "command-failed"
            case checksFailed = "checks-failed"
            case limitExceeded = "limit-exceeded"
            case refused
            case `internal`
        }

        fileprivate var kind: Kind

        public var description: String { kind.rawValue }

        /// A command-line flag, config value or argument is not acceptable.
        public static let invalidArgument = Code(kind: .invalidArgument)
        /// The repository, ref, object or path does not exist.
        public static let notFound = Code(kind: .notFound)
        /// The server refused the credentials (or their absence).
        public static let unauthorized = Code(kind: .unauthorized)
        /// A rate limit stopped the run.
        public static let rateLimited = Code(kind: .rateLimited)
        /// A connection could not be made or broke off.
        public static let network = Code(kind: .network)
        /// TLS negotiation or certificate verification failed.
        public static let tls = Code(kind: .tls)
        /// The server answered with an unexpected HTTP status.
        public static let http = Code(kind: .http)
        /// A response could not be parsed (bad JSON, missing fields).
        public static let malformedResponse = Code(kind: .malformedResponse)
        /// Content did not match its expected hash; nothing unverified was used.
        public static let integrity = Code(kind: .integrity)
        /// A path from the network is unsafe (`..`, absolute, `.git`, NUL, or through a symlink).
        public static let unsafePath = Code(kind: .unsafePath)
        /// A local file-system operation failed.
        public static let io = Code(kind: .io)
        /// Another run holds the lock on the store or target.
        public static let locked = Code(kind: .locked)
        /// The configured source cannot be used (missing repository, git not installed, ...).
        public static let sourceUnavailable = Code(kind: .sourceUnavailable)
        /// The operation was cancelled.
        public static let cancelled = Code(kind: .cancelled)
        /// Local files stand where the tree needs to write, and they are not ours to replace.
        public static let conflict = Code(kind: .conflict)
        /// An external command the run depends on (the rebuild) is missing or exited non-zero.
        public static let commandFailed = Code(kind: .commandFailed)
        /// Health checks (`validate`'s) failed where a run requires them to pass.
        public static let checksFailed = Code(kind: .checksFailed)
        /// A download went past a limit the operator set (`--max-download`, `--request-timeout`); it was stopped and
        /// nothing from it reached the target. Not retried: the same request would meet the same limit. Also a
        /// directory nested past the depth smart-sync walks to keep its files (256 levels).
        public static let limitExceeded = Code(kind: .limitExceeded)
        /// A commit check refused the commit a run would move a target to (not a descendant of the target's commit
        /// without `--allow-downgrade`, or not signed by an allowed signer); the target was not changed.
        public static let refused = Code(kind: .refused)
        /// A bug in smart-sync: please report it.
        public static let `internal` = Code(kind: .internal)
    }
}

/// An `errno` value with the name of the failing call, used as a ``SmartSyncError/cause``.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    /// The system call or libc function that failed.
    public var call: String
    /// The `errno` it left.
    public var errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

extension SmartSyncError {
    /// Wraps the current `errno` after a failed system call on `path`.
    ///
    /// `path` and `hint` are autoclosures, made into strings after `errno` is read: a path or hint built for the
    /// message (joined, interpolated, allocated, a display form) cannot change the `errno` it reports. (A default
    /// argument is evaluated after the explicit ones, so a plain `String` hint was built before `errno` was read.)
    ///
    /// `ENOSPC` and `EDQUOT` always say that the disk is full and what to do, whatever `hint` says.
    public static func io(
        _ call: String, path: @autoclosure () -> String, errno err: Int32 = errno,
        hint: @autoclosure () -> String? = nil
    ) -> SmartSyncError {
        let reason = String(cString: strerror(err))
        var message = "\(call) failed for '\(path())': \(reason)"
        if let full = diskFullHint(err) {
            message += ". \(full)"
        } else if let hint = hint() {
            message += ". \(hint)"
        }
        return SmartSyncError(.io, message, cause: SystemCallError(call, errno: err))
    }

    /// What to tell the operator when `err` means the file system (or the user's quota) is full.
    public static func diskFullHint(_ err: Int32) -> String? {
        guard err == ENOSPC || err == EDQUOT else { return nil }
        return err == EDQUOT
            ? "The disk quota is exhausted: free space on that file system (or raise the quota) and run again"
            : "The disk is full: free space on that file system (`df` shows which) and run again"
    }
}
