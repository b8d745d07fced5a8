import SmartSyncCore
import SmartSyncValidation
import Testing

@Suite("TOML parser")
struct TOMLParserTests {
    private func parse(_ text: String) throws -> TOMLTable { try TOMLParser.parse(text, file: "t.toml") }

    /// The syntax error's position, or nil when the text parses.
    private func failure(_ text: String) -> TOMLSyntaxError? {
        do {
            _ = try parse(text)
            return nil
        } catch let error as SmartSyncError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.hasPrefix("t.toml:"))
            return error.cause as? TOMLSyntaxError
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func scalarsStringsAndComments() throws {
        let doc = try parse(
            """
            # comment
            name = "hyper\\tvisor \\u00e9\\U0001F600 \\"q\\" \\\\"   # trailing comment
            literal = 'C:\\path\\no-escapes'
            "quoted key" = 1
            bare-key_2 = -17
            hex = 0xDEAD_beef
            oct = 0o755
            bin = 0b1010
            under = 1_000
            float = 3.5e-2
            inf = -inf
            yes = true
            no = false
            dotted.key = "x"
            """)
        #expect(doc["name"] == .string("hyper\tvisor é😀 \"q\" \\"))
        #expect(doc["literal"] == .string("C:\\path\\no-escapes"))
        #expect(doc["quoted key"] == .integer(1))
        #expect(doc["bare-key_2"] == .integer(-17))
        #expect(doc["hex"] == .integer(0xDEAD_BEEF))
        #expect(doc["oct"] == .integer(0o755))
        #expect(doc["bin"] == .integer(10))
        #expect(doc["under"] == .integer(1000))
        #expect(doc["float"] == .float(0.035))
        #expect(doc["inf"] == .float(-.infinity))
        #expect(doc["yes"] == .boolean(true) && doc["no"] == .boolean(false))
        #expect(doc["dotted"]?.tableValue?["key"] == .string("x"))
        #expect(doc.keys.first == "name")
        #expect(doc.position(of: "oct").line == 7)
    }

    @Test func multiLineStringsAndArrays() throws {
        let doc = try parse(
            """
            basic = \"\"\"
            line one
            line \\
                two\"\"\"
            lit = '''
            raw \\n ''quoted'' '''
            names = [
              "git",   # the VCS
              'nix',
              [1, 2],
            ]
            empty = [ ]
            inline = { a = 1, b = "two" }
            """)
        #expect(doc["basic"] == .string("line one\nline two"))
        #expect(doc["lit"] == .string("raw \\n ''quoted'' "))
        #expect(doc["names"] == .array([.string("git"), .string("nix"), .array([.integer(1), .integer(2)])]))
        #expect(doc["empty"] == .array([]))
        #expect(doc["inline"]?.tableValue?["b"] == .string("two"))
    }

    @Test func tablesAndArraysOfTables() throws {
        let doc = try parse(
            """
            target = "/etc/hypervisor"
            [defaults]
            min_free_mb = 1024
            [a.b.c]
            x = 1
            [[check]]
            kind = "directory"
            [check.extra]
            y = 2
            [[check]]
            kind = "tool"
            [check.extra]
            y = 3
            """)
        #expect(doc["defaults"]?.tableValue?["min_free_mb"] == .integer(1024))
        #expect(doc["a"]?.tableValue?["b"]?.tableValue?["c"]?.tableValue?["x"] == .integer(1))
        let checks = try #require(doc["check"]?.arrayValue)
        #expect(checks.count == 2)
        #expect(checks[1].tableValue?["kind"] == .string("tool"))
        #expect(checks[1].tableValue?["extra"]?.tableValue?["y"] == .integer(3))
        #expect(checks[1].tableValue?.position.line == 10)
        #expect(checks[0].tableValue?.position(of: "kind").line == 7)
    }

    @Test func errorsNameLineAndColumn() {
        let cases: [(String, Int, Int, String)] = [
            ("a = 1\nb = \n", 2, 5, "expected a value"),
            ("a = \"unterminated\n", 1, 18, "not closed"),
            ("a = 1\na = 2\n", 2, 1, "already defined at line 1"),
            ("[t]\n[t]\n", 2, 1, "defined twice"),
            ("a = 1 b = 2\n", 1, 7, "end of the line"),
            ("a = \"bad \\q escape\"\n", 1, 10, "unknown escape"),
            ("a = [1, 2\n", 2, 1, "not closed"),
            ("a = 1979-05-27\n", 1, 5, "dates and times are not supported"),
            ("a = yes\n", 1, 5, "'yes' is not a value"),
            ("a = 012\n", 1, 5, "is not a value"),
            ("a = 1__0\n", 1, 5, "is not a value"),
            ("x = 1\n[x.y]\n", 2, 1, "cannot be extended"),
            ("a = { b = 1\n", 1, 12, "expected ',' or '}'"),
            ("[[t]]\nq=1\n[t]\n", 3, 1, "defined twice"),
            ("= 1\n", 1, 1, "expected a key"),
            ("k = 'x\u{7}'\n", 1, 7, "control character"),
            ("[a\n", 1, 3, "']'"),
        ]
        for (text, line, column, reason) in cases {
            let error = failure(text)
            #expect(
                error?.position == TOMLPosition(line: line, column: column),
                "\(text.debugDescription): \(String(describing: error))")
            #expect(error?.reason.contains(reason) == true, "\(text.debugDescription): \(String(describing: error))")
        }
    }

    @Test func crlfAndUnicodeColumns() throws {
        let doc = try parse("a = \"é\"\r\nb = 2\r\n")
        #expect(doc["b"] == .integer(2))
        // Columns count characters, not bytes.
        #expect(failure("k = \"ééé\" x\n")?.position == TOMLPosition(line: 1, column: 11))
    }
}
