import RecoveryModel
import XCTest

final class InternTableTests: XCTestCase {
    /// A table stops taking keys at its byte limit as at its entry limit: a dump whose every
    /// `active_apps` field is a different long list must not keep them all for its whole read.
    func testStopsAtItsByteLimit() {
        var table = InternTable<Int>(limit: 1 << 16, byteLimit: 10_000)
        let key = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000)
        var taken = 0
        for i in 0..<100 {
            var k = key
            k[0] = UInt8(i)
            let index = k.withUnsafeBytes { table.index(of: $0, make: { _ in i }) }
            if index != nil { taken += 1 }
        }
        XCTAssertEqual(taken, 10)
        // A key already in the table is still found once it is full.
        var first = key
        first[0] = 0
        XCTAssertEqual(first.withUnsafeBytes { table.find($0).found }, 0)
    }

    func testEntryLimit() {
        var table = InternTable<Int>(limit: 3)
        let taken = (0..<5).filter { i in [UInt8(i)].withUnsafeBytes { table.index(of: $0, make: { _ in i }) } != nil }
        XCTAssertEqual(taken, [0, 1, 2])
    }
}
