import SmartSyncGitObjects
import Testing

/// `ObjectID`'s conversions between hex, bytes and words, and what they refuse.
@Suite("ObjectID")
struct ObjectIDTests {
    @Test func hexRoundTripsThroughBytesAndBack() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let bytes = (0..<20).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let hex = bytes.map {
                String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16)
            }
            .joined()
            let fromBytes = ObjectID(bytes: bytes)
            #expect(fromBytes?.hex == hex)
            #expect(fromBytes?.bytes == bytes)
            #expect(ObjectID(hex: hex) == fromBytes)
            #expect(ObjectID(hex: hex.uppercased()) == fromBytes, "upper-case digits are the same id")
            // From a slice too (the loaders read ids out of a larger buffer).
            let framed = [0xAA] + bytes + [0xBB]
            #expect(ObjectID(bytes: framed[1..<21]) == fromBytes)
        }
    }

    @Test func orderIsTheOrderOfTheBytes() {
        let a = ObjectID(hex: "00000000000000000000000000000000000000ff")!
        let b = ObjectID(hex: "0000000000000000000000000000000000000100")!
        let c = ObjectID(hex: "ff00000000000000000000000000000000000000")!
        #expect(a < b && b < c)
        #expect(!(b < a))
    }

    @Test(arguments: [
        "", "e69de29bb2d1d6434b8b29ae775ad8c2e48c539", "e69de29bb2d1d6434b8b29ae775ad8c2e48c53911",
        "g69de29bb2d1d6434b8b29ae775ad8c2e48c5391", "e69de29bb2d1d6434b8b29ae775ad8c2e48c539 ",
        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
    ])
    func malformedHexIsRefused(_ text: String) {
        #expect(ObjectID(hex: text) == nil)
    }

    @Test func wrongByteCountsAreRefused() {
        #expect(ObjectID(bytes: [UInt8](repeating: 1, count: 19)) == nil)
        #expect(ObjectID(bytes: [UInt8](repeating: 1, count: 21)) == nil)
        #expect(ObjectID(bytes: [UInt8]()) == nil)
    }

    @Test func knownIdsKeepTheirText() {
        #expect(ObjectID.emptyBlob.hex == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        #expect(ObjectID.emptyTree.description == "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
        #expect(ObjectID.emptyBlob.abbreviated() == "e69de29bb2d1")
    }
}
