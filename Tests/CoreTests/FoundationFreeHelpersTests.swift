import Foundation
import Glibc
import SmartSyncCore
import Testing

/// The helpers that replaced Foundation-only APIs in the product (see "Static Swift runtime" in
/// docs/ARCHITECTURE.md) give exactly what those APIs gave. The tests may use Foundation: they compare against it.
@Suite struct FoundationFreeHelpersTests {
    private static let values: [Double] = [
        0, -0.0, 0.05, 0.15, 0.25, 0.35, 1.005, 2.345, 2.5, 3.5, -0.05, -1.25, -2.675, 9.995, 99.95, 123.456_789,
        1e6 + 0.5, 1_234_567.891, 1e15, 1e30, -1e30, 4_294_967_296.5, .ulpOfOne, 1e-9, 59.999, 0.001,
    ]

    @Test func fixedPrintsWhatStringFormatPrinted() {
        for value in Self.values {
            #expect(value.fixed(0) == String(format: "%.0f", value), "\(value)")
            #expect(value.fixed(1) == String(format: "%.1f", value), "\(value)")
            #expect(value.fixed(2) == String(format: "%.2f", value), "\(value)")
        }
        #expect(2.345.fixed(1) == "2.3")
        #expect((-0.05).fixed(1) == "-0.1")
        #expect(1e30.fixed(0).count == 31)
    }

    @Test func cFormatFillsIntegersAsStringFormatDid() {
        let args: [Int32] = [2026, 1, 7, 0, 5, 9, 42]
        let format = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"
        #expect(
            CFormat.string(format, args[0], args[1], args[2], args[3], args[4], args[5], args[6])
                == String(format: format, args[0], args[1], args[2], args[3], args[4], args[5], args[6]))
        #expect(CFormat.string("%d", Int32(-7)) == "-7")
        #expect(CFormat.string("") == "")
    }

    @Test func trimmedAndPaddedMatchFoundation() {
        let marks = [" \u{301}a ", "a \u{301}", "\n\u{301}", "\u{B}v\u{C}", "\u{2028}w\u{85}"]
        for text in ["", "  ", " a b ", "\t\nx\r\n", "\u{00A0}y\u{2003}", "z", "tok\n"] + marks {
            #expect(text.trimmed() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
            #expect(
                text.trimmed(newlines: false) == text.trimmingCharacters(in: .whitespaces), "\(text.debugDescription)")
        }
        for (text, width) in [("added", 11), ("", 3), ("modified", 8), ("toolongtext", 4)] {
            #expect(text.padded(to: width) == text.padding(toLength: width, withPad: " ", startingAt: 0))
        }
    }

    /// Every `--json` event goes through `JSONValue` and `JSONEncoder` where `JSONSerialization` wrote it.
    @Test func jsonValueWritesWhatJSONSerializationWrote() throws {
        let object: [String: Any] = [
            "event": "summary", "name": "etc/nixos", "blobsDone": 12, "blobsTotal": 1_000_000_000_000, "ok": true,
            "failed": false, "seconds": 1.25, "rate": 0.1, "tiny": 1e-7, "huge": 1e21, "whole": 2.0, "neg": -3,
            "path": "a/b \"c\" \\ é \u{1}\n\t", "list": ["x", 1, 2.5, false], "nested": ["z": 1, "a": ["b": "c"]],
            "lower": 2, "_under": 3, "commitBefore": "x", "commit": "y",
        ]
        let ours = try #require(JSONValue(any: object)?.serialized())
        let theirs = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        #expect(ours == String(decoding: theirs, as: UTF8.self))

        // Read back (as the reporter reads an encoded plan): the same values, re-written the same.
        let back = try #require(try JSONDecoder().decode(JSONValue.self, from: Data(ours.utf8)).objectValue)
        #expect(JSONValue(any: back)?.serialized() == ours)
        #expect(back["blobsDone"] as? Int == 12)
        #expect(back["ok"] as? Bool == true)
        #expect(back["seconds"] as? Double == 1.25)
        #expect(JSONValue(any: ["x": Date()]) == nil)
        // Every integer type JSONSerialization took, and Float: a value no Int64 holds is refused, not rounded.
        let numbers: [String: Any] = [
            "u": UInt(7), "u8": UInt8(255), "u16": UInt16(65_535), "i8": Int8(-128), "i16": Int16(-2), "f": Float(0.5),
            "top": UInt64(Int64.max),
        ]
        #expect(
            JSONValue(any: numbers)?.serialized()
                == #"{"f":0.5,"i16":-2,"i8":-128,"top":9223372036854775807,"u":7,"u16":65535,"u8":255}"#)
        #expect(JSONValue(any: ["over": UInt64(Int64.max) + 1]) == nil)
        #expect(JSONValue.double(.nan).serialized() == nil)
        // Keys by UTF-8 bytes (JSONEncoder's `.sortedKeys`), not Foundation's locale-dependent ICU collation.
        let keys = ["b", "B2", "a10", "a9", "_x", "A", "a", "Zed", "zebra", "a09", "é", "z"]
        let sortedObject = JSONValue.object(Dictionary(uniqueKeysWithValues: keys.map { ($0, JSONValue.int(1)) }))
        let expected = ["A", "B2", "Zed", "_x", "a", "a09", "a10", "a9", "b", "z", "zebra", "é"]
        #expect(sortedObject.serialized() == "{" + expected.map { "\"\($0)\":1" }.joined(separator: ",") + "}")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let encoded = try encoder.encode(Dictionary(uniqueKeysWithValues: keys.map { ($0, 1) }))
        #expect(sortedObject.serialized() == String(decoding: encoded, as: UTF8.self))
    }

    /// The CLI's dates as `ISO8601DateFormatter` wrote them: rounded to the millisecond, then the fraction dropped.
    @Test func iso8601SecondsIsWhatISO8601DateFormatterWrote() {
        let cases: [(Double, String)] = [
            (1_000_000_000, "2001-09-09T01:46:40Z"), (1_000_000_000.9995, "2001-09-09T01:46:41Z"),
            (1_000_000_000.9999, "2001-09-09T01:46:41Z"), (1_000_000_000.9994, "2001-09-09T01:46:40Z"),
            (-1.5, "1969-12-31T23:59:58Z"), (-0.0004, "1970-01-01T00:00:00Z"), (-0.9996, "1969-12-31T23:59:59Z"),
        ]
        let formatter = ISO8601DateFormatter()
        for (t, expected) in cases {
            let date = Date(timeIntervalSince1970: t)
            #expect(date.iso8601Seconds == expected, "\(t)")
            #expect(date.iso8601Seconds == formatter.string(from: date), "\(t)")
        }
    }

    @Test func localTimeIsTheOperatorsClock() {
        setenv("TZ", "UTC", 1)
        tzset()
        defer {
            unsetenv("TZ")
            tzset()
        }
        // DateFormatter's `zzz` wrote the host's zone as ICU names it: `UTC` for a host in UTC, as here.
        #expect(LocalTime.string(secondsSince1970: 0) == "1970-01-01 00:00:00 UTC")
        #expect(LocalTime.string(secondsSince1970: 4_102_444_799.9) == "2099-12-31 23:59:59 UTC")
        #expect(LocalTime.string(secondsSince1970: 1_733_612_400) == "2024-12-07 23:00:00 UTC")
    }

    /// The zone as ICU's `zzz` wrote it for an English locale: from the offset, not the C library's `CET`.
    @Test func localTimeNamesTheZoneAsICUDid() {
        defer {
            unsetenv("TZ")
            tzset()
        }
        let winter = 1_733_612_400.0, summer = 1_720_000_000.0  // 2024-12-07 23:00 UTC, 2024-07-03 09:46:40 UTC
        let cases: [(String, Double, String)] = [
            ("Europe/Berlin", winter, "2024-12-08 00:00:00 GMT+1"),
            ("Europe/Berlin", summer, "2024-07-03 11:46:40 GMT+2"),
            ("Asia/Kolkata", winter, "2024-12-08 04:30:00 GMT+5:30"),
            ("Europe/London", winter, "2024-12-07 23:00:00 GMT"),
            ("Europe/London", summer, "2024-07-03 10:46:40 GMT+1"),
            ("America/St_Johns", winter, "2024-12-07 19:30:00 GMT-3:30"),
        ]
        for (zone, t, expected) in cases {
            setenv("TZ", zone, 1)
            tzset()
            #expect(LocalTime.string(secondsSince1970: t) == expected, "\(zone)")
        }
    }

    @Test func readWholeFileGivesTheBytesOrTheSystemsReason() throws {
        #expect(try readWholeFile("/proc/self/comm").last == UInt8(ascii: "\n"))
        #expect(throws: FileReadFailure.self) { try readWholeFile("/nonexistent/file") }
        do {
            _ = try readWholeFile("/nonexistent/file")
        } catch {
            #expect(error.reason == "No such file or directory")
        }
    }
}
