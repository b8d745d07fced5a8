import Foundation
import SmartSyncCore
import SmartSyncTransfer
import Testing

@testable import SmartSyncFetch

@Suite("Content-Range and rate-limit headers")
struct ResumeHeaderTests {
    @Test func parsesContentRange() {
        #expect(ContentRange("bytes 100-199/1000") == ContentRange(first: 100, last: 199, size: 1000))
        #expect(ContentRange("bytes 0-0/*") == ContentRange(first: 0, last: 0, size: nil))
        #expect(ContentRange(" bytes */1000 ") == ContentRange(first: nil, last: nil, size: 1000))
        #expect(ContentRange("Bytes 5-9/10") == ContentRange(first: 5, last: 9, size: 10))
        for bad in [
            "", "bytes", "bytes 5-4/10", "bytes 5-10/10", "bytes -5/10", "items 1-2/3", "bytes 1-2", "bytes */*",
            "bytes a-b/10", "bytes 1-2/x",
        ] {
            #expect(ContentRange(bad) == nil, "\(bad)")
        }
        #expect(ContentRange(nil) == nil)
    }

    @Test func parsesRateLimitHeaders() throws {
        let headers = HTTPHeaders([
            HTTPHeader("X-RateLimit-Limit", "60"), HTTPHeader("x-ratelimit-remaining", "0"),
            HTTPHeader("x-ratelimit-used", "60"), HTTPHeader("x-ratelimit-reset", "1700000000"),
            HTTPHeader("x-ratelimit-resource", "core"),
        ])
        let state = try #require(RateLimitState(headers: headers))
        #expect(state.limit == 60)
        #expect(state.remaining == 0)
        #expect(state.used == 60)
        #expect(state.reset == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(state.resource == "core")
        #expect(state.isExhausted(at: Date(timeIntervalSince1970: 1_699_999_990)))
        #expect(!state.isExhausted(at: Date(timeIntervalSince1970: 1_700_000_001)))
        #expect(state.secondsToReset(from: Date(timeIntervalSince1970: 1_699_999_990)) == 10)
        #expect(state.describeReset(now: Date(timeIntervalSince1970: 1_699_999_990)).hasSuffix("(in 10 s)"))
        #expect(RateLimitState(headers: HTTPHeaders([HTTPHeader("x-ratelimit-limit", "60")])) == nil)
    }

    /// The refusal's hint tests the same delay as the wait (one second past the reset): a reset half a second short
    /// of the clamp is never waited for, so raising --max-wait would not help and the hint must not say it would.
    @Test func theHintAgreesWithTheWaitAtTheClamp() {
        func hint(secondsAway: Double) -> String {
            let state = RateLimitState(remaining: 0, reset: Date().addingTimeInterval(secondsAway))
            let error = GitHubJSON.rateLimitError(
                state: state, endpoint: "GET /x", status: 403, said: "", authenticated: true, maxWait: 1e12)
            return error.hint ?? ""
        }
        #expect(hint(secondsAway: 1e9 - 0.5).contains("further away than smart-sync ever waits"))
        #expect(!hint(secondsAway: 1e9 - 0.5).contains("raise --max-wait"))
        #expect(hint(secondsAway: 1e9 - 10).contains("raise --max-wait"))
    }

    /// With no reset time the delay is unknown: the hint says so rather than "raise --max-wait ... to 1 or more".
    @Test func theHintSaysAnUnknownResetIsUnknown() {
        let error = GitHubJSON.rateLimitError(
            state: RateLimitState(remaining: 0), endpoint: "GET /x", status: 403, said: "", authenticated: true,
            maxWait: 60)
        #expect(error.hint?.contains("reset time is unknown") == true, "\(error.hint ?? "")")
        #expect(error.hint?.contains("raise --max-wait") == false)
    }

    private func response(_ status: Int, _ headers: [(String, String)]) -> TransferResponse {
        TransferResponse(
            status: status, headers: HTTPHeaders(headers.map { HTTPHeader($0.0, $0.1) }), body: [], bytesReceived: 0,
            effectiveURL: "", httpVersion: 1, newConnections: 0, totalTime: 0)
    }

    @Test func tellsPrimaryFromSecondaryLimits() {
        let primary = response(403, [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1")])
        #expect(RateLimitState.isPrimaryLimit(primary))
        #expect(!RetryPolicy.isRetryable(primary))
        #expect(RateLimitState.isPrimaryLimit(response(429, [("x-ratelimit-remaining", "0")])))
        let secondary = response(403, [("retry-after", "3"), ("x-ratelimit-remaining", "12")])
        #expect(!RateLimitState.isPrimaryLimit(secondary))
        #expect(RetryPolicy.isRetryable(secondary))
        #expect(!RateLimitState.isPrimaryLimit(response(403, [("x-ratelimit-remaining", "5")])))
        #expect(!RetryPolicy.isRetryable(response(403, [])))
    }

    @Test func validatorPrefersStrongETag() {
        #expect(StoreSink.validator(HTTPHeaders([HTTPHeader("ETag", "\"x\"")])) == "\"x\"")
        #expect(
            StoreSink.validator(
                HTTPHeaders([
                    HTTPHeader("ETag", "W/\"x\""), HTTPHeader("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
                ]))
                == "Mon, 01 Jan 2024 00:00:00 GMT")
        #expect(StoreSink.validator(HTTPHeaders()) == nil)
    }

    @Test func gatePacesBursts() async throws {
        let gate = RequestGate(rate: 20, burst: 2, maxConcurrent: 1)
        let start = ContinuousClock.now
        for _ in 0..<6 { try await gate.run {} }
        // 2 from the burst, then 4 at 20/s: at least ~0.2 s.
        #expect(ContinuousClock.now - start >= .milliseconds(150))
    }
}
