import SmartSyncCore
import SmartSyncFetch
import SmartSyncTransfer
import Testing

@Suite("NetworkSettings")
struct NetworkSettingsTests {
    @Test func byteCountsParse() {
        #expect(ByteCount(parsing: "500K")?.bytes == 500 * 1024)
        #expect(ByteCount(parsing: "2M")?.bytes == 2 * 1024 * 1024)
        #expect(ByteCount(parsing: "1g")?.bytes == 1 << 30)
        #expect(ByteCount(parsing: "1T")?.bytes == 1 << 40)
        #expect(ByteCount(parsing: "1.5K")?.bytes == 1536)
        #expect(ByteCount(parsing: " 4096 ")?.bytes == 4096)
        for bad in ["0", "-1K", "fast", "2X", "", "K", "1e3", "inf", "nan", "1.5.5K", "+5"] {
            #expect(ByteCount(parsing: bad) == nil, "'\(bad)'")
        }
    }

    @Test func byteCountsPrintAsTheyAreWritten() {
        #expect(ByteCount(1024).argument == "1K")
        #expect(ByteCount(4 << 30).argument == "4G")
        #expect(ByteCount(1536).argument == "1536")
        #expect(ByteCount(1 << 40).argument == "1T")
        #expect(ByteCount(1536).description == "1.5 KiB")
        for n in [1, 1000, 1024, 1 << 20, 3 << 30, 12345] {
            #expect(ByteCount(parsing: ByteCount(n).argument)?.bytes == n)
        }
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
        // The configuration's parser (URLAuthority, which names the host curl does): case and default ports do not
        // count. User information is refused, by the parser and by the configuration, credentials never quoted.
        #expect(NetworkSettings.defaultGitURL(apiURL: "HTTPS://API.GitHub.com:443/") == "https://github.com")
        let error = try #require(throws: SmartSyncError.self) {
            try SourceConfiguration.github(
                slug: "corp/infra", apiURL: "https://user:pw@ghe.corp/api/v3", rawURL: nil, token: nil,
                network: NetworkSettings())
        }
        #expect(error.message.contains("carries credentials") && !error.message.contains("pw@"))
        #expect(NetworkSettings.defaultGitURL(apiURL: "https://[::1]:8443/api/v3") == "https://[::1]:8443")
    }

    /// An API URL the configuration's parser refuses gives no git URL at all: credentials in it never come back
    /// as the git host (which would carry them into the clone's remote and messages).
    @Test(arguments: [
        "https://user:pw@ghe.corp/api/v3", "https://pw@ghe.corp", "https://ghe.corp@evil.example/",
        "http://u:pw@127.0.0.1:8080/api", "https://127.1/api", "ftp://ghe.corp/",
    ])
    func aRefusedAPIURLGivesNoGitURL(apiURL: String) {
        #expect(NetworkSettings.defaultGitURL(apiURL: apiURL) == nil)
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
