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
}
