@testable import EventSpill
import Foundation
import TestSupport
import XCTest

/// A spill file damaged between its writing and its reading back (a disk error, something else
/// writing in TMPDIR) stops the plan with `spill_cannot_read`: never a crash, never other events
/// than the ones spilled.
final class PartitionFilesTests: XCTestCase {
    /// Two records of 64 KiB each in range 0 of a new spill directory under `dir`.
    func spilled(in dir: TemporaryDirectory) throws -> (PartitionFiles, [[UInt8]]) {
        let files = try PartitionFiles(in: dir.path, bounds: [])
        let records = (0..<2).map { r in (0..<65_536).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 251 + r) } }
        for record in records { try files.append(record, to: 0) }
        files.close()
        return (files, records)
    }

    /// The records of range 0 read back, or the error that stopped the reading.
    func readBack(_ files: PartitionFiles) -> Result<[[UInt8]], Error> {
        Result {
            var read: [[UInt8]] = []
            try files.forEachRecord(of: 0) { read.append(Array($0)) }
            return read
        }
    }

    func assertCannotRead(_ result: Result<[[UInt8]], Error>, _ detail: String, file: StaticString = #filePath, line: UInt = #line) {
        guard case .failure(let error) = result else { return XCTFail("the damaged file was read back", file: file, line: line) }
        XCTAssertEqual((error as? SpillError)?.code, "spill_cannot_read", "\(error)", file: file, line: line)
        XCTAssertTrue("\(error)".contains(detail), "\(error)", file: file, line: line)
    }

    /// Rewrites `count` bytes of range 0's file at `offset` with `body`'s.
    func damage(_ files: PartitionFiles, at offset: Int, _ body: (inout [UInt8]) -> Void) throws {
        let url = URL(fileURLWithPath: files.path(0))
        var bytes = [UInt8](try Data(contentsOf: url))
        var part = Array(bytes[offset..<(offset + 8)])
        body(&part)
        bytes.replaceSubrange(offset..<(offset + 8), with: part)
        try Data(bytes).write(to: url)
    }

    func testRecordsReadBackAsWritten() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        let (files, records) = try spilled(in: dir)
        XCTAssertEqual(try readBack(files).get(), records)
    }

    func testAFileCutShortCannotBeRead() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        let (files, _) = try spilled(in: dir)
        let size = try FileManager.default.attributesOfItem(atPath: files.path(0))[.size] as! Int
        XCTAssertEqual(truncate(files.path(0), off_t(size - 100)), 0)
        assertCannotRead(readBack(files), "the file ends inside a record")
    }

    /// A flipped byte inside a record's compressed bytes: LZ4 alone may decompress it to other
    /// bytes of the same size, so the frame carries a checksum of its content.
    func testAChangedByteInARecordCannotBeRead() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        let (files, _) = try spilled(in: dir)
        for offset in [40, 200, 1_000] {
            try damage(files, at: offset) { $0[3] ^= 0x10 }
            assertCannotRead(readBack(files), "does not decompress")
            try damage(files, at: offset) { $0[3] ^= 0x10 }
            XCTAssertNoThrow(try readBack(files).get())
        }
    }

    /// A header whose sizes were overwritten (here with 2^62) is refused before anything is
    /// allocated for it.
    func testAHeaderWithSizesOtherThanTheRecordsCannotBeRead() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        let (files, _) = try spilled(in: dir)
        for field in [0, 8] {
            try damage(files, at: field) { bytes in withUnsafeBytes(of: (UInt64(1) << 62).littleEndian) { bytes = Array($0) } }
            assertCannotRead(readBack(files), "size")
        }
    }
}
