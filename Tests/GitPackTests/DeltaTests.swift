import Testing

@testable import GitPack

@Suite struct DeltaTests {
    @Test func copyAndInsert() throws {
        let base = Array("hello world".utf8)
        // Base size 11, result size 8: copy 5 bytes from offset 0, insert "!!!".
        let delta: [UInt8] = [11, 8, 0x80 | 0x10, 5, 3, 0x21, 0x21, 0x21]
        #expect(try Delta.apply(delta, to: base) == Array("hello!!!".utf8))
    }

    @Test func copySizeZeroMeans64KiB() throws {
        let base = [UInt8](repeating: 7, count: 0x10000 + 3)
        // Varints: 0x10003 = 0x83 0x80 0x04; 0x10000 = 0x80 0x80 0x04. Copy from offset 2, size omitted.
        let delta: [UInt8] = [0x83, 0x80, 0x04, 0x80, 0x80, 0x04, 0x80 | 0x01, 2]
        #expect(try Delta.apply(delta, to: base).count == 0x10000)
    }
}
