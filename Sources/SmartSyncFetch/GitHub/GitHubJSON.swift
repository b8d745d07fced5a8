import FoundationEssentials
import SmartSyncCore
import SmartSyncTransfer

/// The parts of GitHub's REST responses that smart-sync reads.
enum GitHubJSON {
    struct Tree: Decodable {
        struct Item: Decodable {
            var path: String
            var mode: String
            var type: String
            var sha: String
            var size: Int?
        }
        var sha: String
        var tree: [Item]
        var truncated: Bool
    }

    /// An entry of `GET …/git/matching-refs/{prefix}`, and the object of a tag from `GET …/git/tags/{sha}`.
    struct Ref: Decodable {
        struct Object: Decodable {
            var sha: String
            var type: String
        }
        var ref: String
        var object: Object
    }

    struct Tag: Decodable {
        var object: Ref.Object
    }

    struct ErrorBody: Decodable {
        var message: String?
    }

    /// Why `JSONDecoder` refused a body, in the words Foundation's `localizedDescription` gave it on Linux.
    static func reason(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound, .valueNotFound: return "The operation could not be completed. The data is missing."
        default: return "The operation could not be completed. The data isn’t in the correct format."
        }
    }

    /// Decodes a JSON body, naming the endpoint when it does not parse.
    static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], endpoint: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw SmartSyncError(
                .malformedResponse,
                "the response from \(endpoint) is not the JSON GitHub sends (\(Self.reason(error)))",
                hint: "check --api-url points at a GitHub API",
                cause: SendableDescription("\(error)"))
        }
    }

    /// Turns a non-2xx API answer into an error that names what was asked and what to check.
    static func error(for response: TransferResponse, endpoint: String, subject: String, authenticated: Bool)
        -> SmartSyncError
    {
        let serverMessage = (try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)))?.message
        // The server's text, escaped and cut (`EscapedText.excerpt`, as at every site that quotes server text but a
        // path's description): a control byte in it (an escape sequence, a newline and a forged line) would reach the
        // terminal and the logs as it is, and a message of megabytes (up to the response-body limit) would flood them.
        let said = serverMessage.map { " (GitHub said: \(EscapedText.excerpt($0)))" } ?? ""
        switch response.status {
        case 401:
            return SmartSyncError(
                .unauthorized,
                "the API rejected the token for \(subject): HTTP 401 from \(endpoint)\(said)",
                hint: "check GH_TOKEN / GITHUB_TOKEN / ~/.config/github/token: it may be expired or revoked")
        case 403 where RateLimitState.isPrimaryLimit(response), 429 where RateLimitState.isPrimaryLimit(response):
            return rateLimitError(
                state: RateLimitState(headers: response.headers) ?? RateLimitState(remaining: 0), endpoint: endpoint,
                status: response.status, said: said, authenticated: authenticated, maxWait: nil)
        case 403 where response.headers["retry-after"] != nil, 429:
            let wait = RetryPolicy.retryAfter(response.headers["retry-after"]).map { " asks to wait \(Int($0)) s" }
            return SmartSyncError(
                .rateLimited,
                "GitHub's secondary rate limit refused \(subject): HTTP \(response.status) from "
                    + "\(endpoint)\(said);\(wait ?? " no wait was given") (longer than "
                    + "--max-wait, or after every retry)",
                hint: "try again later, lower --jobs, or raise --max-wait"
            )
        case 404, 422:
            let token = authenticated ? "" : "; for a private repository set a token (GH_TOKEN)"
            return SmartSyncError(
                .notFound, "\(subject) was not found: HTTP \(response.status) from \(endpoint)\(said)",
                hint: "check the owner/repository and ref spelling" + token)
        default:
            return SmartSyncError(
                .http,
                "unexpected HTTP \(response.status) from \(endpoint) for \(subject)\(said)",
                hint: "try again later or check --api-url",
                httpStatus: response.status)
        }
    }
}

extension GitHubJSON {
    /// The error for an exhausted primary rate limit: when it resets (local time, seconds from now) and what to
    /// do instead of waiting.
    ///
    /// - Parameters:
    ///   - status: the refusing response's status, or nil when the limit was known exhausted before asking.
    ///   - maxWait: `--max-wait`, when the reset is further away than that.
    static func rateLimitError(
        state: RateLimitState, endpoint: String, status: Int?, said: String, authenticated: Bool, maxWait: Double?
    ) -> SmartSyncError {
        let answer =
            status.map { "HTTP \($0) from \(endpoint)" }
            ?? "the last response said 0 requests are left, before \(endpoint)"
        // A header's text, escaped and cut too.
        let resource = state.resource.map { ", resource \(EscapedText.excerpt($0))" } ?? ""
        let quota = state.limit.map { " (limit \($0) an hour\(resource))" } ?? ""
        var hints: [String] = []
        if !authenticated { hints.append("set a token (GH_TOKEN) for 5,000 requests an hour instead of 60") }
        // The same test as the wait's (`sleepUntilReset`): a reset no --max-wait can reach says so.
        if maxWait != nil, state.reset != nil, !RetryPolicy.mayWait(state.delayUntilReset(), within: .infinity) {
            hints.append("the reset is further away than smart-sync ever waits: wait for it")
        } else if maxWait != nil, state.reset == nil {
            // No reset time: the delay is unknown, no --max-wait is enough.
            hints.append("the reset time is unknown (no x-ratelimit-reset header): wait for it")
        } else if let maxWait {
            let needed = Int(state.secondsToReset().rounded(.up)) + 1
            let now = maxWait.fixed(0)  // any finite --max-wait, 1e30 too: no Int conversion
            hints.append("raise --max-wait (now \(now) s) to \(needed) or more to wait for the reset")
        } else {
            hints.append("wait for the reset")
        }
        hints.append("or use --force-full to fetch with git instead of the API")
        return SmartSyncError(
            .rateLimited,
            "GitHub's API rate limit is exhausted\(quota) and resets \(state.describeReset()): \(answer)\(said)",
            hint: hints.joined(separator: ", "))
    }
}

/// A description carried as an error cause.
struct SendableDescription: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
