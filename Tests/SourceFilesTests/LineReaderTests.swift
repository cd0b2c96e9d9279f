import Foundation
import XCTest
import RecoveryModel
@testable import SourceFiles
import TestSupport

/// The reader on files written by the real `lz4` tool during the test.
final class LineReaderTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = TemporaryDirectory.root.appendingPathComponent("lr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Lines `line 1 ...` to `line N ...`, each with some payload so that frames hold many blocks.
    func text(lines: ClosedRange<Int>) -> String {
        lines.map { "line \($0) {\"user_id\":\($0 % 97),\"pad\":\"\(String(repeating: "x", count: $0 % 40))\"}\n" }.joined()
    }

    func write(_ name: String, _ content: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try content.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    @discardableResult
    func lz4(_ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["lz4", "-q", "-f"] + args
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    func compress(_ name: String, _ content: String, options: [String] = []) throws -> String {
        let plain = try write(name + ".plain", content)
        let out = dir.appendingPathComponent(name).path
        XCTAssertEqual(try lz4(options + [plain, out]), 0)
        return out
    }

    func readAll(_ path: String) throws -> (lines: [String], numbers: [Int], summary: LineReader.Summary) {
        var lines: [String] = []
        var numbers: [Int] = []
        let summary = try LineReader(path: path).forEachLine { bytes, number in
            lines.append(String(decoding: bytes, as: UTF8.self))
            numbers.append(number)
        }
        return (lines, numbers, summary)
    }

    func expected(_ content: String) -> [String] {
        content.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func testPlainFileWithAndWithoutFinalNewline() throws {
        let content = text(lines: 1...1000)
        let r = try readAll(try write("a.log", content))
        XCTAssertEqual(r.lines, expected(content))
        XCTAssertEqual(r.numbers, Array(1...1000))
        XCTAssertNil(r.summary.damage)

        let cut = try readAll(try write("b.log", "one\ntwo\nthree"))
        XCTAssertEqual(cut.lines, ["one", "two", "three"])
        XCTAssertEqual(cut.summary.lines, 3)
    }

    func testSingleFrameAndFrameOptions() throws {
        let content = text(lines: 1...50_000)
        for (i, options) in [[], ["--content-size"], ["--no-frame-crc"], ["-B4", "--content-size"], ["-BD", "--no-frame-crc"]].enumerated() {
            let r = try readAll(try compress("s\(i).jsonl.lz4", content, options: options))
            XCTAssertEqual(r.lines, expected(content), "options \(options)")
            XCTAssertNil(r.summary.damage, "options \(options)")
            XCTAssertEqual(r.summary.bytes, Int64(content.utf8.count))
        }
    }

    func testConcatenatedFramesAreOneStream() throws {
        let parts = [text(lines: 1...10_000), text(lines: 10_001...10_500), text(lines: 10_501...30_000)]
        var data = Data()
        for (i, part) in parts.enumerated() {
            let path = try compress("part\(i).lz4", part, options: i == 1 ? ["--content-size"] : [])
            data.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        let path = dir.appendingPathComponent("multi.jsonl.lz4").path
        try data.write(to: URL(fileURLWithPath: path))
        let r = try readAll(path)
        XCTAssertEqual(r.lines, expected(parts.joined()))
        XCTAssertNil(r.summary.damage)
    }

    func testTruncatedFileYieldsCompleteLinesAndReportsTheCut() throws {
        let content = text(lines: 1...40_000)
        let full = try Data(contentsOf: URL(fileURLWithPath: try compress("t.lz4", content)))
        for cut in [7, 100, full.count / 3, full.count / 2, full.count - 5, full.count - 1] {
            let path = dir.appendingPathComponent("cut\(cut).log.lz4").path
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            let r = try readAll(path)
            XCTAssertEqual(r.summary.damage, .truncated(offset: Int64(cut)), "cut at \(cut)")
            // Every delivered line is a complete line of the original, in order, from the first.
            XCTAssertEqual(r.lines, Array(expected(content).prefix(r.lines.count)), "cut at \(cut)")
            if cut <= full.count / 2 { XCTAssertLessThan(r.lines.count, 40_000) }
        }
    }

    func testFlippedByteIsReportedAsCorrupt() throws {
        let content = text(lines: 1...20_000)
        var data = try Data(contentsOf: URL(fileURLWithPath: try compress("f.lz4", content)))
        let at = data.count / 2
        data[at] ^= 0x5A
        let path = dir.appendingPathComponent("flipped.log.lz4").path
        try data.write(to: URL(fileURLWithPath: path))
        let r = try readAll(path)
        guard case .corrupt(let offset, let detail)? = r.summary.damage else {
            return XCTFail("expected corruption, got \(String(describing: r.summary.damage))")
        }
        // Detected no earlier than the flipped byte (block data is checked by the frame's content
        // checksum at its end), and located to within the 64 KiB input step.
        XCTAssertGreaterThan(offset + 64 * 1024, Int64(at))
        XCTAssertLessThanOrEqual(offset, Int64(data.count))
        XCTAssertFalse(detail.isEmpty)
        XCTAssertTrue(r.summary.droppedPartialLine || r.lines.count < 20_000)
    }

    /// A block larger than the 64 KiB input step is decoded once whole: one that fails its block
    /// checksum is located to within the step at its end, and the blocks before it are delivered.
    func testCorruptBlockLargerThanTheStepIsLocatedAtItsEnd() throws {
        let content = text(lines: 1...60_000)
        var data = try Data(contentsOf: URL(fileURLWithPath: try compress("big.lz4", content, options: ["-B6", "-BX"])))
        func blockSize(at i: Int) -> Int {
            Int(data[i]) | Int(data[i + 1]) << 8 | Int(data[i + 2]) << 16 | Int(data[i + 3] & 0x7F) << 24
        }
        // The frame header is 7 bytes; each block is its size, its bytes and their checksum.
        let second = 7 + 4 + blockSize(at: 7) + 4
        let size = blockSize(at: second)
        XCTAssertGreaterThan(size, 64 * 1024)
        data[second + 4 + size / 2] ^= 0x5A
        let path = dir.appendingPathComponent("bigflipped.log.lz4").path
        try data.write(to: URL(fileURLWithPath: path))
        let r = try readAll(path)
        guard case .corrupt(let offset, let detail)? = r.summary.damage else {
            return XCTFail("expected corruption, got \(String(describing: r.summary.damage))")
        }
        let end = Int64(second + 4 + size + 4)
        XCTAssertGreaterThanOrEqual(offset, end - 64 * 1024)
        XCTAssertLessThan(offset, end)
        XCTAssertEqual(detail, "ERROR_blockChecksum_invalid")
        // The first block's 1 MiB of text, up to its last complete line.
        let firstBlockLines = content.utf8.prefix(1 << 20).filter { $0 == 0x0A }.count
        XCTAssertGreaterThanOrEqual(r.lines.count, firstBlockLines)
        XCTAssertEqual(r.lines, Array(expected(content).prefix(r.lines.count)))
    }

    /// XXH32 (seed 0), which the decoder checks frames with itself: the reference values, the same
    /// checksum however the bytes are split, and the real `lz4`'s content and block checksums.
    func testXXH32MatchesTheReferenceAndTheLZ4Tool() throws {
        func xxh(_ text: String) -> UInt32 { Array(text.utf8).withUnsafeBytes { XXH32.of($0) } }
        XCTAssertEqual(xxh(""), 0x02CC_5D05)
        XCTAssertEqual(xxh("a"), 0x550D_7456)
        XCTAssertEqual(xxh("abc"), 0x32D1_53FF)
        XCTAssertEqual(xxh("Nobody inspects the spammish repetition"), 0xE229_3B2F)

        let bytes = Array(text(lines: 1...3_000).utf8)
        let whole = bytes.withUnsafeBytes { XXH32.of($0) }
        for pieces in [[1, 15, 16, 17, 3], [7], [16, 16, 1], [100_000]] {
            var hash = XXH32()
            var at = 0, k = 0
            bytes.withUnsafeBytes { all in
                while at < all.count {
                    let n = min(pieces[k % pieces.count], all.count - at)
                    hash.update(UnsafeRawBufferPointer(rebasing: all[at..<at + n]))
                    at += n
                    k += 1
                }
            }
            XCTAssertEqual(hash.digest(), whole, "pieces \(pieces)")
        }

        // A frame of one block with both checksums: 7-byte header, block size, block, its
        // checksum, end mark, content checksum.
        let content = text(lines: 1...200)
        let frame = try Data(contentsOf: URL(fileURLWithPath: try compress("x.lz4", content, options: ["-BX"])))
        func word(_ at: Int) -> UInt32 { UInt32(frame[at]) | UInt32(frame[at + 1]) << 8 | UInt32(frame[at + 2]) << 16 | UInt32(frame[at + 3]) << 24 }
        let size = Int(word(7) & 0x7FFF_FFFF)
        XCTAssertEqual(frame.count, 7 + 4 + size + 4 + 4 + 4)
        XCTAssertEqual(frame.subdata(in: 11..<11 + size).withUnsafeBytes { XXH32.of($0) }, word(11 + size))
        XCTAssertEqual(Array(content.utf8).withUnsafeBytes { XXH32.of($0) }, word(frame.count - 4))
    }

    /// Damage that only a checksum shows: a frame whose stored content checksum is wrong, and a
    /// block whose stored checksum is (its bytes decode as before). The decoder
    /// checks both itself (LZ4F's checks are off for the frames it follows); neither may pass.
    func testChecksumsThatDoNotHoldAreCorrupt() throws {
        let content = text(lines: 1...40_000)
        var data = try Data(contentsOf: URL(fileURLWithPath: try compress("c.lz4", content, options: ["-B4"])))
        data[data.count - 2] ^= 0x01
        let path = dir.appendingPathComponent("content.log.lz4").path
        try data.write(to: URL(fileURLWithPath: path))
        let r = try readAll(path)
        guard case .corrupt(_, let detail)? = r.summary.damage else {
            return XCTFail("expected corruption, got \(String(describing: r.summary.damage))")
        }
        XCTAssertEqual(detail, "ERROR_contentChecksum_invalid")
        XCTAssertLessThan(r.lines.count, 40_000)
        XCTAssertEqual(r.lines, Array(expected(content).prefix(r.lines.count)))

        // 64 KiB blocks with checksums; the third block's stored checksum changed.
        var blocks = try Data(contentsOf: URL(fileURLWithPath: try compress("b.lz4", content, options: ["-B4", "-BX"])))
        func size(_ at: Int) -> Int {
            Int(blocks[at]) | Int(blocks[at + 1]) << 8 | Int(blocks[at + 2]) << 16 | Int(blocks[at + 3] & 0x7F) << 24
        }
        var at = 7
        for _ in 0..<2 { at += 4 + size(at) + 4 }
        let third = at
        blocks[third + 4 + size(third)] ^= 0x01
        let blockPath = dir.appendingPathComponent("block.log.lz4").path
        try blocks.write(to: URL(fileURLWithPath: blockPath))
        let b = try readAll(blockPath)
        XCTAssertEqual(b.summary.damage, .corrupt(offset: Int64(third), detail: "ERROR_blockChecksum_invalid"))
        // The two blocks before it, 128 KiB of text, up to their last complete line.
        XCTAssertEqual(b.lines.count, content.utf8.prefix(128 << 10).filter { $0 == 0x0A }.count)
        XCTAssertEqual(b.lines, Array(expected(content).prefix(b.lines.count)))
    }

    func testNotLZ4IsCorruptAtZero() throws {
        let r = try readAll(try write("fake.log.lz4", "this is not lz4\n"))
        XCTAssertEqual(r.summary.damage?.code, "corrupt")
        XCTAssertEqual(r.lines, [])
    }

    func testEmptyFiles() throws {
        for name in ["empty.log", "empty.log.lz4"] {
            let r = try readAll(try write(name, ""))
            XCTAssertEqual(r.lines, [])
            XCTAssertEqual(r.summary, LineReader.Summary())
        }
        let r = try readAll(try compress("emptyframe.log.lz4", ""))
        XCTAssertEqual(r.lines, [])
        XCTAssertNil(r.summary.damage)
    }

    func testOverlongLineIsSkippedAndNumbered() throws {
        let long = String(repeating: "y", count: 3000)
        let path = try write("long.log", "a\n\(long)\nb\n")
        var lines: [String] = []
        let summary = try LineReader(path: path, maxLineLength: 1000).forEachLine { bytes, n in
            lines.append("\(n):\(String(decoding: bytes, as: UTF8.self))")
        }
        XCTAssertEqual(lines, ["1:a", "3:b"])
        XCTAssertEqual(summary.overlongLines, [2])
        XCTAssertEqual(summary.lines, 3)
    }

    func testDigestIsTheWholeFilesSHA256EvenWhenDecodingStops() throws {
        let content = text(lines: 1...20_000)
        var data = try Data(contentsOf: URL(fileURLWithPath: try compress("d.lz4", content)))
        data[data.count / 3] ^= 0xFF
        let path = dir.appendingPathComponent("digest.log.lz4").path
        try data.write(to: URL(fileURLWithPath: path))
        let summary = try LineReader(path: path, computeDigest: true).forEachLine { _, _ in }
        XCTAssertNotNil(summary.damage)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let expected = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        XCTAssertEqual(summary.sha256, String(expected))
        XCTAssertNil(try LineReader(path: path).forEachLine { _, _ in }.sha256)
    }

    /// A file cut short while it is read (log rotation's copytruncate): the reader read to the new
    /// end, and plan recorded the file as read whole with thousands of slots lost, exit 0 (found by
    /// a hostile test). It stops (`cannot_read`), naming the sizes. A file appended to while it is
    /// read is read as it was when opened: its lines and SHA-256 agree with its recorded size (the
    /// hash was of the grown file).
    func testAFileCutOrGrownWhileItIsReadIsReadAsOpened() throws {
        let content = text(lines: 1...40000)
        let cut = try write("cut.log", content)
        let reader = try LineReader(path: cut)
        XCTAssertEqual(truncate(cut, off_t(content.utf8.count / 2)), 0)
        XCTAssertThrowsError(try reader.forEachLine { _, _ in }) { error in
            XCTAssertEqual((error as? SourceError)?.kind, .cannotRead)
            XCTAssertTrue("\(error)".contains("shrank while it was read"), "\(error)")
        }

        let grown = try write("grown.log", content)
        let growing = try LineReader(path: grown, computeDigest: true)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: grown))
        handle.seekToEndOfFile()
        handle.write(Data("line 40001 appended\n".utf8))
        try handle.close()
        let summary = try growing.forEachLine { _, _ in }
        let whole = SHA256()
        whole.update(Array(content.utf8))
        XCTAssertEqual(summary.lines, 40000)
        XCTAssertEqual(summary.bytes, Int64(content.utf8.count))
        XCTAssertEqual(summary.sha256, whole.finalize())
        XCTAssertEqual(growing.fileSize, Int64(content.utf8.count))
    }

    /// Compressed data under a plain name (an LZ4 or gzip file named .log): read as a few lines of
    /// junk, quarantined, the file's events lost with exit 0 (found by a hostile test). Refused,
    /// naming the format and what to do.
    func testCompressedDataUnderAPlainNameIsRefused() throws {
        let content = text(lines: 1...100)
        let lz4File = try compress("x.lz4", content)
        let misnamed = dir.appendingPathComponent("x.log").path
        try FileManager.default.copyItem(atPath: lz4File, toPath: misnamed)
        XCTAssertThrowsError(try LineReader(path: misnamed)) { error in
            XCTAssertEqual((error as? SourceError)?.kind, .cannotRead)
            XCTAssertTrue("\(error)".contains("it holds LZ4 data under a plain name"), "\(error)")
        }
        let gz = try write("y.log.plain", content)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-f", gz]
        try p.run()
        p.waitUntilExit()
        let gzipped = dir.appendingPathComponent("y.log").path
        try FileManager.default.moveItem(atPath: gz + ".gz", toPath: gzipped)
        XCTAssertThrowsError(try LineReader(path: gzipped)) { error in
            XCTAssertTrue("\(error)".contains("it holds gzip data under a plain name"), "\(error)")
        }
        // Text is text, short files included.
        XCTAssertEqual(try LineReader(path: try write("z.log", "{}\n")).forEachLine { _, _ in }.lines, 1)
        XCTAssertEqual(try LineReader(path: try write("w.log", "")).forEachLine { _, _ in }.lines, 0)
    }

    func testANamedPipeIsRefusedNotWaitedOn() throws {
        let fifo = dir.appendingPathComponent("pipe.log").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try LineReader(path: fifo)) { error in
            XCTAssertEqual((error as? SourceError)?.description,
                           "cannot open '\(fifo)': not a regular file; check the path and its permissions")
        }
    }

    func testMissingFileIsAnError() throws {
        XCTAssertThrowsError(try LineReader(path: dir.appendingPathComponent("nope.log").path)) { error in
            XCTAssertEqual(
                (error as? SourceError)?.description,
                "cannot open '\(dir.appendingPathComponent("nope.log").path)': No such file or directory; check the path and its permissions")
        }
    }

    func testDiscoveryIsRecursiveSortedAndFiltered() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("logs/app-2"), withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent("logs/app-1"), withIntermediateDirectories: true)
        for name in ["logs/app-2/b.jsonl.lz4", "logs/app-1/a.log", "logs/app-1/notes.txt", "logs/app-1/c.jsonl"] {
            _ = try write(name, "")
        }
        let root = dir.appendingPathComponent("logs").path
        let found = try InputDiscovery.files(at: [root, root + "/app-1/a.log"], suffixes: InputDiscovery.logSuffixes)
        XCTAssertEqual(found, [root + "/app-1/a.log", root + "/app-1/c.jsonl", root + "/app-2/b.jsonl.lz4"])
    }

    /// A host's folder linked into the logs folder is read through its link, a link back up is
    /// no endless walk, and a log whose link leads nowhere is named, not skipped: the walk left
    /// out linked folders and dangling links without a word (found by an audit).
    /// A directory given as itself and through a link (or its absolute path): its files were
    /// named by whichever path was given first, so the provenance and the plan id followed the
    /// order of --logs (found by a hostile test). The path that sorts first names each, in any order.
    func testAFolderGivenTwoWaysGivesTheSameFilesInAnyOrder() throws {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs/app-1"), withIntermediateDirectories: true)
        _ = try write("logs/app-1/a.log", "")
        let root = dir.appendingPathComponent("logs").path, link = dir.appendingPathComponent("loglink").path
        XCTAssertEqual(symlink(root, link), 0)
        let one = try InputDiscovery.files(at: [root, link], suffixes: InputDiscovery.logSuffixes)
        let other = try InputDiscovery.files(at: [link, root], suffixes: InputDiscovery.logSuffixes)
        XCTAssertEqual(one, other)
        XCTAssertEqual(one, [min(root, link) + "/app-1/a.log"])
    }

    func testDiscoveryFollowsLinkedFoldersAndNamesWhatItCannotRead() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("logs/app-1"), withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent("disk2/app-3"), withIntermediateDirectories: true)
        _ = try write("logs/app-1/a.log", "")
        _ = try write("disk2/app-3/c.log", "")
        let root = dir.appendingPathComponent("logs").path
        XCTAssertEqual(symlink(dir.appendingPathComponent("disk2/app-3").path, root + "/app-3"), 0)
        XCTAssertEqual(symlink(root, root + "/app-1/up"), 0)  // a loop
        XCTAssertEqual(try InputDiscovery.files(at: [root], suffixes: InputDiscovery.logSuffixes),
                       [root + "/app-1/a.log", root + "/app-3/c.log"])
        XCTAssertEqual(symlink(dir.appendingPathComponent("gone.log").path, root + "/app-1/b.log"), 0)
        XCTAssertThrowsError(try InputDiscovery.files(at: [root], suffixes: InputDiscovery.logSuffixes)) { error in
            XCTAssertEqual((error as? SourceError)?.description,
                           "cannot open '\(root)/app-1/b.log': no such file or directory; check the path and its permissions")
        }
        XCTAssertEqual(unlink(root + "/app-1/b.log"), 0)
        // A name that is not UTF-8 is named too (it cannot be opened through a Swift string).
        let latin1 = Array((root + "/app-1/caf").utf8) + [0xE9] + Array(".log".utf8) + [0]
        let fd = latin1.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertThrowsError(try InputDiscovery.files(at: [root], suffixes: InputDiscovery.logSuffixes)) { error in
            XCTAssertEqual((error as? SourceError)?.description, "cannot read '\(root)/app-1/caf\u{FFFD}.log': its name is not UTF-8; rename it")
        }
        latin1.withUnsafeBufferPointer { _ = unlink(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
        // A host's folder whose link leads nowhere (a disk not mounted) is named too.
        XCTAssertEqual(symlink(dir.appendingPathComponent("unmounted/app-5").path, root + "/app-5"), 0)
        XCTAssertThrowsError(try InputDiscovery.files(at: [root], suffixes: InputDiscovery.logSuffixes)) { error in
            XCTAssertEqual((error as? SourceError)?.description,
                           "cannot open '\(root)/app-5': no such file or directory; check the path and its permissions")
        }
        XCTAssertEqual(unlink(root + "/app-5"), 0)
        // One file reached by two paths (its folder given again, through the link and as itself) is
        // read once, by the path that sorts first, in either order.
        let disk2 = dir.appendingPathComponent("disk2").path
        for paths in [[root, disk2], [disk2, root]] {
            XCTAssertEqual(try InputDiscovery.files(at: paths, suffixes: InputDiscovery.logSuffixes), [disk2 + "/app-3/c.log", root + "/app-1/a.log"])
        }
        // fsck's lost+found is no input, listed or not.
        try fm.createDirectory(at: dir.appendingPathComponent("logs/lost+found"), withIntermediateDirectories: true)
        _ = try write("logs/lost+found/x.log", "")
        XCTAssertEqual(try InputDiscovery.files(at: [root], suffixes: InputDiscovery.logSuffixes), [root + "/app-1/a.log", root + "/app-3/c.log"])
        // A folder that cannot be listed stops the walk (root lists any folder: checked as another user only).
        try fm.createDirectory(at: dir.appendingPathComponent("logs/app-4"), withIntermediateDirectories: true)
        XCTAssertEqual(chmod(root + "/app-4", 0), 0)
        defer { chmod(root + "/app-4", 0o755) }
        if geteuid() != 0 {
            XCTAssertThrowsError(try InputDiscovery.files(at: [root], suffixes: InputDiscovery.logSuffixes)) { error in
                XCTAssertEqual((error as? SourceError)?.description,
                               "cannot open '\(root)/app-4': permission denied; check the path and its permissions")
            }
        }
    }
}
