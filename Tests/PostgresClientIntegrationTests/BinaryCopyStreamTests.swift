@testable import PostgresClient
import XCTest

/// The binary COPY messages as the reader takes them, on bytes (no server): what PostgreSQL
/// sends is covered by `ConnectionTests.testBinaryCopyOut`; these are the shapes it does not send.
final class BinaryCopyStreamTests: XCTestCase {
    private func header(flags: UInt32 = 0, extensionBytes: [UInt8] = []) -> [UInt8] {
        BinaryCopyStream.signature + bigEndian(flags) + bigEndian(UInt32(extensionBytes.count)) + extensionBytes
    }

    private func bigEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }

    /// One row of one bigint field.
    private let row: [UInt8] = [0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42]
    private let trailer: [UInt8] = [0xFF, 0xFF]

    /// Takes each message in turn; the bigint of each row, or the error's text.
    private func read(_ messages: [[UInt8]]) -> (rows: [Int64], error: String?, sawTrailer: Bool) {
        var stream = BinaryCopyStream(), rows: [Int64] = []
        for message in messages {
            do {
                let taken = try message.withUnsafeBytes { try stream.take($0) }
                if case .row(var row) = taken, let value = row.next()?.int64 { rows.append(value) }
            } catch let error as BinaryCopyStream.Malformed {
                return (rows, error.what, stream.sawTrailer)
            } catch {
                return (rows, "\(error)", stream.sawTrailer)
            }
        }
        return (rows, nil, stream.sawTrailer)
    }

    func testTheHeaderWithTheFirstRowOrAloneGivesTheSameRows() {
        XCTAssertEqual(read([header() + row, row, trailer]).rows, [42, 42])
        let alone = read([header(), row, row, trailer])
        XCTAssertEqual(alone.rows, [42, 42])
        XCTAssertNil(alone.error)
        XCTAssertTrue(alone.sawTrailer)
        XCTAssertEqual(read([header() + trailer]).rows, [])
        XCTAssertTrue(read([header() + trailer]).sawTrailer)
    }

    func testAnExtensionAreaIsSkipped() {
        XCTAssertEqual(read([header(extensionBytes: [1, 2, 3]) + row, trailer]).rows, [42])
        XCTAssertEqual(read([header(extensionBytes: [1, 2, 3]), row, trailer]).rows, [42])
    }

    func testAFormatCriticalOrOIDFlagStopsTheReadAndAnOtherFlagDoesNot() {
        for bit in 0...16 {
            XCTAssertEqual(read([header(flags: 1 << UInt32(bit)) + row, trailer]).error, "no valid header", "bit \(bit)")
        }
        for bit in 17...31 {
            XCTAssertEqual(read([header(flags: 1 << UInt32(bit)) + row, trailer]).rows, [42], "bit \(bit)")
        }
    }

    func testMalformedMessagesAreNamed() {
        XCTAssertEqual(read([Array(header().prefix(18))]).error, "no valid header")
        XCTAssertEqual(read([[0] + header().dropFirst()]).error, "no valid header")
        XCTAssertEqual(read([header(), [0]]).error, "a row without a field count")
        XCTAssertEqual(read([header() + Array(row.dropLast())]).error, "a row whose field lengths do not match its bytes")
        XCTAssertEqual(read([header() + trailer, row]).error, "data after the trailer")
        XCTAssertEqual(read([header() + trailer + [0]]).error, "data after the trailer")
    }
}
