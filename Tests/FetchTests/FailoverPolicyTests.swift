import Foundation
import SmartSyncCore
import SmartSyncFetch
import Testing

@testable import SmartSyncTransfer

/// The failover policies as values: how an error's code becomes a ``SourceFailure/Reason``, and which reasons move on
/// under `--transport raw`'s API-then-clone policy and `auto`'s pack-then-per-blob policy.
struct FailoverPolicyTests {
    static let api = FailoverPolicy.apiOutage(clone: "http://git.example/o/r.git")

    private func failure(_ code: SmartSyncError.Code, status: Int? = nil) -> SourceFailure {
        SourceFailure(classifying: SmartSyncError(code, "it failed", hint: "do this", httpStatus: status))
    }

    /// The engine thread's setup fails every request with its error: whatever the step (libcurl's load, `--cacert`
    /// gone when the thread reads it again, no multi handle), the failover reads it as local and tries no other
    /// transport, whose requests would fail the same way.
    @Test func everyEngineSetupFailureIsLocal() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("gone-\(UUID()).pem").path
        let unreadable = try #require(throws: SmartSyncError.self) { try CABundle.check(extraCAFile: missing) }
        #expect(SourceFailure(classifying: unreadable).reason == .answered)
        let cacert = TransferEngine.localSetupFailure(unreadable)
        #expect(SourceFailure(classifying: cacert).reason == .local)
        #expect(cacert.message == unreadable.message && cacert.code == unreadable.code)
        let multi = TransferEngine.localSetupFailure(
            SmartSyncError(.internal, "libcurl could not create a multi handle"))
        #expect(SourceFailure(classifying: multi).reason == .local)
        struct Odd: Error {}
        let odd = TransferEngine.localSetupFailure(Odd())
        #expect(SourceFailure(classifying: odd).reason == .local && odd.code == .internal)
        // The step's own cause is kept inside the mark, not replaced by it.
        struct Inner: Error {}
        let caused = TransferEngine.localSetupFailure(
            SmartSyncError(.io, "cannot read the trust store", cause: Inner()))
        #expect((caused.cause as? CurlLibrary.Unusable)?.underlying is Inner, "\(String(describing: caused.cause))")
    }

    @Test func eachCodeHasItsReason() {
        let expected: [(SmartSyncError.Code, Int?, SourceFailure.Reason)] = [
            (.network, nil, .unreachable), (.http, 500, .serverError), (.http, 599, .serverError),
            (.http, 403, .unusable), (.http, nil, .unusable), (.rateLimited, nil, .rateLimited),
            (.notFound, nil, .notFound), (.unauthorized, nil, .answered), (.invalidArgument, nil, .answered),
            (.unsafePath, nil, .answered), (.io, nil, .local), (.locked, nil, .local), (.conflict, nil, .local),
            (.cancelled, nil, .local), (.limitExceeded, nil, .limitExceeded), (.tls, nil, .unusable),
            (.malformedResponse, nil, .unusable), (.integrity, nil, .unusable), (.sourceUnavailable, nil, .unusable),
            (.internal, nil, .unusable),
        ]
        for (code, status, reason) in expected {
            #expect(failure(code, status: status).reason == reason, "\(code) \(status ?? 0)")
        }
    }

    /// Damage in the local store is `.integrity` too, but local: no source would do better, so no failover moves on
    /// for it (found by the review: a planted entry at a delta base's path failed the pack transport over).
    @Test func storeDamageIsLocal() {
        let damage = SmartSyncError.storeDamaged("the stored object at objects/ab/cd is a symlink")
        #expect(damage.code == .integrity && damage.isStoreDamage)
        #expect(damage.hint?.contains("fsck --repair") == true)
        #expect(SourceFailure(classifying: damage).reason == .local)
    }

    /// Only outages leave the API for the clone; answers (a missing ref, a bad token) and local problems surface.
    @Test func theAPIMovesOnOnlyForOutages() {
        #expect(Self.api.movesOn == [.unreachable, .serverError, .rateLimited])
        for reason in SourceFailure.Reason.allCases where !Self.api.movesOn.contains(reason) {
            #expect(Self.api.reason(for: SourceFailure(reason, SmartSyncError(.http, "x")), in: .resolve) == nil)
        }
        let down = failure(.http, status: 502)
        #expect(Self.api.reason(for: down, in: .resolve) == "the API answered HTTP 502 (it failed)")
        #expect(Self.api.reason(for: down, in: .fetch) == "the blob downloads answered HTTP 502 (it failed)")
        #expect(
            Self.api.reason(for: failure(.network), in: .listing)
                == "the API could not be reached or broke off (it failed)")
        #expect(
            Self.api.reason(for: failure(.rateLimited), in: .fetch)?.contains("does not reset within --max-wait")
                == true)
        #expect(
            Self.api.announcement("why", false) == "falling back to a shallow clone of http://git.example/o/r.git: why")
        #expect(Self.api.announcement("why", true) == "using a shallow clone of http://git.example/o/r.git: why")
    }

    /// The pack path moves on for anything the per-blob path may not meet: a host without protocol v2, a pack that
    /// failed verification, an object the pack left out; not for answers the API gives too, local problems, the
    /// run's limits, or a failure of the per-blob path itself.
    @Test func packsMoveOnUnlessThePerBlobPathWouldFailAlike() {
        let pack = FailoverPolicy.packTransport
        for code: SmartSyncError.Code in [.network, .rateLimited, .notFound, .malformedResponse, .integrity, .tls] {
            #expect(pack.reason(for: failure(code), in: .listing) == "the pack transport failed (it failed)", "\(code)")
        }
        #expect(pack.reason(for: failure(.http, status: 404), in: .resolve) != nil)
        for code: SmartSyncError.Code in [
            .unauthorized, .invalidArgument, .unsafePath, .io, .locked, .conflict, .cancelled, .limitExceeded,
        ] {
            #expect(pack.reason(for: failure(code), in: .fetch) == nil, "\(code)")
        }
        // The same outage, when the per-blob path inside the pack source had it, surfaces.
        let delegated = SourceFailure(.delegated, SmartSyncError(.network, "raw host down"))
        #expect(pack.reason(for: delegated, in: .fetch) == nil)
        #expect(Self.api.reason(for: delegated, in: .fetch) == nil)
        #expect(pack.bothFailed == nil)
        #expect(pack.announcement("why", false) == "using per-blob downloads: why")
    }

    /// When the clone fails too: one error saying both, the clone's code when it is an answer, else the API's.
    @Test func bothFailedSaysBoth() throws {
        let combine = try #require(Self.api.bothFailed)
        let cause = SmartSyncError(.rateLimited, "rate limit exhausted until 12:00", hint: "wait")
        let refused = combine(cause, SmartSyncError(.unauthorized, "git refused the token", hint: "check GH_TOKEN"))
        #expect(refused.code == .unauthorized)
        #expect(refused.message.hasPrefix("rate limit exhausted until 12:00; wait. The fallback, a shallow clone of"))
        #expect(refused.message.hasSuffix("failed too: git refused the token"))
        #expect(refused.hint == "check GH_TOKEN")
        #expect(combine(cause, SmartSyncError(.network, "unreachable")).code == .rateLimited)
    }

    /// An error whose parts end in a period, combined with another's, reads as one sentence: no "..", no ".;".
    @Test func combinedErrorsNeverDoubleTheirPeriods() throws {
        let combine = try #require(Self.api.bothFailed)
        let cause = SmartSyncError(
            .cancelled, "the transfer of https://api.example/x was cancelled because the transfer engine shut down.")
        let clone = SmartSyncError(.network, "git could not connect.", hint: "check the proxy.")
        let text = combine(cause, clone).text
        #expect(!text.contains("..") && !text.contains(".;") && !text.hasSuffix("."), "\(text)")
        #expect(SmartSyncError(.io, "disk full.", hint: "free some space.").text == "disk full; free some space")
        #expect(SmartSyncError(.io, "wait...").text == "wait...")
    }
}
