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
        for text in ["", "  ", " a b ", "\t\nx\r\n", "\u{00A0}y\u{2003}", "z", "tok\n"] {
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
            "Upper": 1, "lower": 2, "_under": 3, "a10": 1, "a9": 2, "commitBefore": "x", "commit": "y",
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
        #expect(JSONValue.double(.nan).serialized() == nil)
        let keys = ["b", "B2", "a10", "a9", "_x", "A", "a", "Zed", "zebra", "a09"]
        #expect(keys.sorted(by: JSONValue.foundationOrder) == keys.sorted {
            $0.compare($1, options: [.numeric, .caseInsensitive, .forcedOrdering]) == .orderedAscending
        })
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

    @Test func standardStreamWritesEverythingThroughAPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let saved = dup(STDOUT_FILENO)
        dup2(fds[1], STDOUT_FILENO)
        close(fds[1])
        let text = String(repeating: "0123456789abcdé\n", count: 1000)  // 17 KB: more than one write of a pipe
        let reader = PipeReader(fd: fds[0])
        StandardStream.output.write(text)
        dup2(saved, STDOUT_FILENO)
        close(saved)
        #expect(String(decoding: reader.wait(), as: UTF8.self) == text)
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

/// Reads a descriptor to its end on a thread of its own (a pipe's writer would block on a full pipe otherwise).
private final class PipeReader: @unchecked Sendable {
    private let done = Condition()
    private var bytes: [UInt8]?

    init(fd: Int32) {
        DedicatedThread.start {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                out.append(contentsOf: buffer[0..<n])
            }
            close(fd)
            self.done.lock()
            self.bytes = out
            self.done.broadcast()
            self.done.unlock()
        }
    }

    func wait() -> [UInt8] {
        done.lock()
        defer { done.unlock() }
        while bytes == nil { done.wait() }
        return bytes!
    }
}
