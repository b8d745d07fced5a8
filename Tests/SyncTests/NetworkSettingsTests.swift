import Sync
import Testing

@Suite("NetworkSettings")
struct NetworkSettingsTests {
    @Test func parseRate() {
        #expect(NetworkSettings.parseRate("500K") == 500 * 1024)
        #expect(NetworkSettings.parseRate("2M") == 2 * 1024 * 1024)
        #expect(NetworkSettings.parseRate("1g") == 1 << 30)
        #expect(NetworkSettings.parseRate("1.5K") == 1536)
        #expect(NetworkSettings.parseRate("4096") == 4096)
        #expect(NetworkSettings.parseRate("0") == nil)
        #expect(NetworkSettings.parseRate("-1K") == nil)
        #expect(NetworkSettings.parseRate("fast") == nil)
        #expect(NetworkSettings.parseRate("2X") == nil)
    }

    @Test func parseLimit() {
        #expect(NetworkSettings.parseLimit("none") == .some(nil))
        #expect(NetworkSettings.parseLimit("None") == .some(nil))
        #expect(NetworkSettings.parseLimit("4G") == .some(4 << 30))
        #expect(NetworkSettings.parseLimit("512M") == .some(512 << 20))
        #expect(NetworkSettings.parseLimit("0") == nil, "0 is not 'no limit': write none")
        #expect(NetworkSettings.parseLimit("lots") == nil)
    }

    @Test func limitsReachTheEngine() throws {
        var network = NetworkSettings()
        #expect(network.maxDownload == 4 << 30 && network.minSpeed == 1024 && network.requestTimeout == 3600)
        network.maxDownload = nil
        network.minSpeed = 300
        network.requestTimeout = 90
        let configuration = try SourceConfiguration.github(
            slug: "o/r", apiURL: "https://api.github.com", rawURL: "https://raw.githubusercontent.com", token: nil,
            network: network)
        guard case .github(_, _, let transfer, _) = configuration else {
            Issue.record("not a GitHub configuration")
            return
        }
        #expect(transfer.maxDownload == nil)
        #expect(transfer.minSpeed == 300)
        #expect(transfer.requestTimeout == 90)
    }

    @Test func gitHostDefaultsToTheAPIsOwnHost() throws {
        #expect(NetworkSettings.defaultGitURL(apiURL: "https://api.github.com") == "https://github.com")
        #expect(NetworkSettings.defaultGitURL(apiURL: "https://api.github.com/") == "https://github.com")
        #expect(NetworkSettings.defaultGitURL(apiURL: "https://ghe.corp/api/v3") == "https://ghe.corp")
        #expect(NetworkSettings.defaultGitURL(apiURL: "http://127.0.0.1:8080/api") == "http://127.0.0.1:8080")
    }

    @Test func gitHostReceivesTheTokenOnlyWhenPacksMayBeUsed() throws {
        // GitHub Enterprise without --git-url: the token goes to the enterprise host, never to github.com.
        var network = NetworkSettings()
        let ghe = try SourceConfiguration.github(
            slug: "corp/infra", apiURL: "https://ghe.corp/api/v3", rawURL: "https://ghe.corp/raw", token: nil,
            network: network)
        guard case .github(_, _, let transfer, let settings) = ghe else {
            Issue.record("not a GitHub configuration")
            return
        }
        #expect(settings.gitURL == "https://ghe.corp")
        #expect(transfer.credentialHosts == ["ghe.corp"])
        #expect(!transfer.credentialHosts.contains("github.com"))

        network.transport = .raw
        let raw = try SourceConfiguration.github(
            slug: "o/r", apiURL: "https://api.github.com", rawURL: "https://raw.githubusercontent.com", token: nil,
            network: network)
        guard case .github(_, _, let rawTransfer, _) = raw else { return }
        #expect(rawTransfer.credentialHosts == ["api.github.com", "raw.githubusercontent.com"])
    }
}
