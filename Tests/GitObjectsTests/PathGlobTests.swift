import SmartSyncGitObjects
import Testing

/// ``PathGlob``: the one glob dialect of `--exclude` and validate's checks.
@Suite("PathGlob")
struct PathGlobTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let pattern: String
        let path: String
        let matches: Bool
        var testDescription: String { "\(pattern) \(matches ? "matches" : "does not match") \(path)" }
    }

    static let cases: [Case] = [
        // `*` stays within one component, `**` crosses them.
        .init(pattern: "*.nix", path: "a.nix", matches: true),
        .init(pattern: "*.nix", path: "dir/a.nix", matches: false),
        .init(pattern: "modules/*.nix", path: "modules/a.nix", matches: true),
        .init(pattern: "modules/*.nix", path: "modules/x/a.nix", matches: false),
        .init(pattern: "modules/**.nix", path: "modules/x/y/a.nix", matches: true),
        .init(pattern: "modules/**.nix", path: "modules/a.nix", matches: true),
        .init(pattern: "modules/**.nix", path: "other/a.nix", matches: false),
        .init(pattern: "**.nix", path: "a/b/c.nix", matches: true),
        .init(pattern: "**", path: "anything/at/all", matches: true),
        // `**/` as whole components may match no directory.
        .init(pattern: "a/**/b", path: "a/b", matches: true),
        .init(pattern: "a/**/b", path: "a/x/b", matches: true),
        .init(pattern: "a/**/b", path: "a/x/y/b", matches: true),
        .init(pattern: "a/**/b", path: "a/xb", matches: false),
        .init(pattern: "a/**/b", path: "ab", matches: false),
        .init(pattern: "**/secret", path: "secret", matches: true),
        .init(pattern: "**/secret", path: "x/y/secret", matches: true),
        .init(pattern: "**/secret", path: "x/notsecret", matches: false),
        .init(pattern: "local/**", path: "local/a/b", matches: true),
        // `?` and sets: one byte, never `/`.
        .init(pattern: "file?.txt", path: "file1.txt", matches: true),
        .init(pattern: "file?.txt", path: "file/.txt", matches: false),
        .init(pattern: "file[0-9].txt", path: "file7.txt", matches: true),
        .init(pattern: "file[0-9].txt", path: "filex.txt", matches: false),
        .init(pattern: "file[!0-9].txt", path: "filex.txt", matches: true),
        .init(pattern: "file[^0-9].txt", path: "file3.txt", matches: false),
        .init(pattern: "a[/]b", path: "a/b", matches: false),
        .init(pattern: "[]]", path: "]", matches: true),
        .init(pattern: "[unclosed", path: "[unclosed", matches: true),
        // Hidden names are ordinary; escapes; whole-path anchoring.
        .init(pattern: "*.swp", path: ".notes.swp", matches: true),
        .init(pattern: "\\*", path: "*", matches: true),
        .init(pattern: "\\*", path: "x", matches: false),
        .init(pattern: "hosts/this-host", path: "hosts/this-host", matches: true),
        .init(pattern: "hosts/this-host", path: "hosts/this-host2", matches: false),
        .init(pattern: "hosts", path: "hosts/this-host", matches: false),
        .init(pattern: "", path: "", matches: true),
        .init(pattern: "*", path: "", matches: true),
        // Bytes, not characters or normalisation: NFC does not match NFD.
        .init(pattern: "caf\u{E9}", path: "cafe\u{301}", matches: false),
        .init(pattern: "caf?", path: "caf\u{E9}", matches: false),  // é is two bytes
        .init(pattern: "caf??", path: "caf\u{E9}", matches: true),
    ]

    @Test(arguments: cases)
    func matching(_ c: Case) {
        #expect(PathGlob(c.pattern).matches(TreePath(c.path)) == c.matches)
    }

    @Test func aNameThatIsNotUTF8IsMatchedByItsBytes() {
        let latin1 = TreePath(bytes: Array("caf".utf8) + [0xE9] + Array(".txt".utf8))
        #expect(PathGlob("caf?.txt").matches(latin1))
        #expect(PathGlob("*.txt").matches(latin1))
        #expect(!PathGlob("caf.txt").matches(latin1))
    }

    @Test func literalPatternsAreKnownAsSuch() {
        #expect(PathGlob("hosts/this-host").isLiteral)
        #expect(!PathGlob("hosts/*").isLiteral)
        #expect(PathGlob("a\\*").literalPath == TreePath("a*"), "an escaped star is a literal one")
        #expect(PathGlob("hosts/*").literalPath == nil)
    }

    @Test func manyStarsOnALongPathStayLinear() {
        // A pattern that makes a backtracking matcher take exponential time: here it is a table of 20 x 4,000.
        let pattern = String(repeating: "*a", count: 10) + "b"
        let path = TreePath(String(repeating: "a", count: 4000))
        #expect(!PathGlob(pattern).matches(path))
        #expect(!PathGlob(String(repeating: "**a", count: 10) + "b").matches(path))
    }
}
