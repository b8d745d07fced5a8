import SmartSyncCore
import SmartSyncValidation
import SmartSyncWorkflow
import Testing

/// A target's `splay`: a duration (or seconds), at most a day, never beside `source`.
@Suite("ConfiguredTarget splay")
struct ConfiguredTargetSplayTests {
    func parse(_ extra: String, repo: String = "repo = \"o/r\"") throws -> ConfiguredTarget {
        let text = "[target.a]\n\(repo)\npath = \"/x\"\n" + extra
        return try ConfiguredTarget.parseAll(TOMLParser.parse(text, file: "config.toml"), file: "config.toml")[0]
    }

    func error(_ extra: String, repo: String = "repo = \"o/r\"") -> String {
        do {
            _ = try parse(extra, repo: repo)
            return "no error"
        } catch let e as SmartSyncError {
            return e.text
        } catch {
            return "\(error)"
        }
    }

    @Test func durationsAndSecondsAreRead() throws {
        #expect(try parse("").splay == nil)
        #expect(try parse("splay = \"5m\"\n").splay == Splay(seconds: 300))
        #expect(try parse("splay = \"1.5s\"\n").splay == Splay(seconds: 1.5))
        #expect(try parse("splay = 90\n").splay == Splay(seconds: 90))
        #expect(try parse("splay = 1.5\n").splay == Splay(seconds: 1.5), "a TOML float is a number of seconds too")
        #expect(try parse("splay = \"0\"\n").splay == Splay.none)
    }

    @Test func badValuesNameTheKey() {
        #expect(error("splay = \"soon\"\n").contains("config.toml:4: [target.a] 'splay' must be a duration"))
        #expect(error("splay = \"2d\"\n").contains("'splay' must be a duration"))
        #expect(error("splay = -3\n").contains("'splay' must be a duration"))
        #expect(error("splay = -0.5\n").contains("'splay' must be a duration"))
        #expect(error("splay = inf\n").contains("'splay' must be a duration"))
        #expect(
            error("splay = \"30s\"\n", repo: "source = \"/srv/git/a\"").contains(
                "config.toml:4: [target.a] 'splay' has no use with 'source'"))
    }

    @Test func splayAndRequestRateParse() {
        #expect(Splay(parsing: "30s") == Splay(seconds: 30))
        #expect(Splay(parsing: " 2m ") == Splay(seconds: 120))
        #expect(Splay(parsing: "500ms") == Splay(seconds: 0.5))
        #expect(Splay(parsing: "1h") == Splay(seconds: 3600))
        #expect(Splay(parsing: "7") == Splay(seconds: 7))
        for bad in ["", "s", "-1s", "1d", "25h", "3x", "1e3"] { #expect(Splay(parsing: bad) == nil, "\(bad)") }
        #expect(Splay.none.randomDelay() == 0)
        let delays = (0..<200).map { _ in Splay(seconds: 2).randomDelay() }
        #expect(delays.allSatisfy { $0 >= 0 && $0 < 2 } && Set(delays).count > 100)
        #expect(RequestRate(parsing: "10")?.perSecond == 10)
        #expect(RequestRate(parsing: "10/s")?.perSecond == 10)
        #expect(RequestRate(parsing: "120/m")?.perSecond == 2)
        #expect(RequestRate(parsing: "3600/h")?.perSecond == 1)
        #expect(RequestRate(parsing: "0.5/s")?.perSecond == 0.5)
        for bad in ["", "0", "0/s", "-1", "10/d", "ten", "/s"] { #expect(RequestRate(parsing: bad) == nil, "\(bad)") }
    }
}
