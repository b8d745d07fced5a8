import Foundation
import GitObjects
import SmartSyncCore
import Transfer

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

    struct ErrorBody: Decodable {
        var message: String?
    }

    /// Decodes a JSON body, naming the endpoint when it does not parse.
    static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], endpoint: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw SmartSyncError(
                .malformedResponse,
                "the response from \(endpoint) is not the JSON GitHub sends (\(error.localizedDescription)); check --api-url points at a GitHub API",
                cause: SendableDescription("\(error)"))
        }
    }

    /// Turns a non-2xx API answer into an error that names what was asked and what to check.
    static func error(for response: TransferResponse, endpoint: String, subject: String, authenticated: Bool)
        -> SmartSyncError
    {
        let serverMessage = (try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)))?.message
        let said = serverMessage.map { " (GitHub said: \($0))" } ?? ""
        switch response.status {
        case 401:
            return SmartSyncError(
                .unauthorized,
                "the API rejected the token for \(subject): HTTP 401 from \(endpoint)\(said). Check GH_TOKEN / GITHUB_TOKEN / ~/.config/github/token: it may be expired or revoked"
            )
        case 403 where response.headers["x-ratelimit-remaining"] == "0", 429:
            var when = ""
            if let reset = response.headers["x-ratelimit-reset"].flatMap(Double.init) {
                when =
                    " until \(Date(timeIntervalSince1970: reset)) (in \(max(0, Int(reset - Date().timeIntervalSince1970))) s)"
            }
            let hint = authenticated ? "wait for the reset" : "set GH_TOKEN for 5,000 requests an hour instead of 60"
            return SmartSyncError(
                .rateLimited,
                "GitHub's API rate limit is exhausted\(when): HTTP \(response.status) from \(endpoint)\(said); \(hint)")
        case 404, 422:
            let hint = authenticated ? "" : "; for a private repository set a token (GH_TOKEN)"
            return SmartSyncError(
                .notFound,
                "\(subject) was not found: HTTP \(response.status) from \(endpoint)\(said). Check the owner/repository and ref spelling\(hint)"
            )
        default:
            return SmartSyncError(
                .http,
                "unexpected HTTP \(response.status) from \(endpoint) for \(subject)\(said); try again later or check --api-url"
            )
        }
    }
}

/// A description carried as an error cause.
struct SendableDescription: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
