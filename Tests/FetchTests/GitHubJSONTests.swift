import Foundation
import Testing

@testable import SmartSyncFetch

@Suite("GitHub JSON bodies")
struct GitHubJSONTests {
    private struct Needs: Decodable { var sha: String }

    /// A body JSONDecoder refuses is named in the words Foundation's `localizedDescription` gave on Linux.
    @Test func decodeReasonIsFoundationsWording() {
        let missing = "The operation could not be completed. The data is missing."
        let wrong = "The operation could not be completed. The data isn’t in the correct format."
        for (body, expected) in [("{}", missing), ("{\"sha\": null}", missing), ("{\"sha\": 1}", wrong),
                                 ("not json", wrong)] {
            do {
                _ = try JSONDecoder().decode(Needs.self, from: Data(body.utf8))
                Issue.record("\(body) decoded")
            } catch {
                #expect(GitHubJSON.reason(error) == expected, "\(body)")
                #expect(GitHubJSON.reason(error) == error.localizedDescription, "\(body)")
            }
        }
    }
}
