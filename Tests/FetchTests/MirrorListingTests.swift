import SmartSyncCore
import SmartSyncGitObjects
import Testing

@testable import SmartSyncFetch

/// A mirror's `listings/` file is the mirror's text: a field it refuses is quoted escaped and cut
/// (``EscapedText/excerpt(_:limit:)``), not whole.
@Suite struct MirrorListingTests {
    static let id = ObjectID(hex: String(repeating: "a", count: 40))!

    /// The error `MirrorListing.parse` throws for the one entry `<mode> <type> <id> <size>\t<path>\0`.
    static func message(mode: String = "100644", type: String = "blob", size: String = "3") -> String {
        let line = Array("\(mode) \(type) \(id.hex) \(size)\tconf.nix".utf8) + [0]
        do {
            _ = try MirrorListing.parse(line, commit: id, rootTree: id, source: "listings/x")
            return ""
        } catch {
            return (error as? SmartSyncError)?.message ?? "\(error)"
        }
    }

    /// A type of 5,000 bytes, a control byte first: 200 of them, escaped, then the count of the rest. Before, the
    /// whole field went into the message.
    @Test func aLongTypeIsEscapedAndCut() {
        let message = Self.message(type: "\u{1B}" + String(repeating: "t", count: 4999))
        let shown = "has type '\\x1b" + String(repeating: "t", count: 199) + "…(4800 bytes more)'"
        #expect(message.contains(shown), "\(message)")
        #expect(message.utf8.count < 400, "\(message.utf8.count) bytes")
    }

    /// A size of 5,000 digits (no Int holds it): cut the same way.
    @Test func aLongSizeIsCut() {
        let message = Self.message(size: String(repeating: "9", count: 5000))
        let shown = "has the size '" + String(repeating: "9", count: 200) + "…(4800 bytes more)'"
        #expect(message.contains(shown), "\(message)")
    }
}
