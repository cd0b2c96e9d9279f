import RecoveryModel
import SourceFiles

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the `time_slots` rows of a pg_dump plain-format file (`*.sql`, or LZ4-framed `*.sql.lz4`),
/// streaming, line by line.
///
/// Finds every `COPY <schema>.time_slots (<columns>) FROM stdin;` block, whatever the schema
/// qualification or identifier quoting, takes the column order from its COPY line, and skips the
/// blocks of other tables. A dump with no such block, or whose block ends before its `\.` line
/// (a cut file, a damaged LZ4 frame), is a thrown `SnapshotError` naming the file and line. A
/// row that breaks a rule it alone shows is a `QuarantineRecord` with its line.
public struct DumpReader {
    public let path: String
    /// Adds the file's SHA-256 to the summary (a plan records it); `diff` has no use for it.
    public var computeDigest: Bool

    public init(path: String, computeDigest: Bool = false) {
        self.path = path
        self.computeDigest = computeDigest
    }

    /// What a pass over the dump found besides the rows it delivered.
    public struct Summary: Hashable, Sendable {
        /// Rows of `time_slots` read, in and out of the window, quarantined or not.
        public var rows = 0
        /// Rows outside the window, skipped.
        public var outsideWindow = 0
        /// SHA-256 of the dump file on disk, when `computeDigest` is set.
        public var sha256: String?
        public var quarantined: [QuarantineRecord] = []
        /// The lines of the `COPY ... time_slots` statements.
        public var copyLines: [Int] = []
        /// Decompressed bytes read.
        public var bytes: Int64 = 0
    }

    /// Calls `body` with every row of `time_slots` whose `slot_start` is in `window` (all rows when
    /// `window` is nil), in file order, with its line number.
    ///
    /// In three phases: each COPY line of `time_slots` starts a block (`SlotPass.begin`), each
    /// row is taken or counted (`SlotPass.take`), and the pass's figures are checked at the end
    /// (`SlotPass.finish`).
    public func forEachSlot(
        in window: Window? = nil, _ body: (TimeSlot, SourceLocation) throws -> Void
    ) throws -> Summary {
        var pass = SlotPass(path: path, window: window)
        let blocks = try DumpBlocks(path: path, computeDigest: computeDigest).read(tables: ["time_slots"]) { _, columns, line in
            try pass.begin(columns: columns, line: line)
        } row: { _, line, number in
            try pass.take(line, number: number, body)
        }
        return try pass.finish(blocks)
    }

    /// One pass over a dump's `time_slots` rows: the decoder of the current block and the figures.
    struct SlotPass {
        let path: String
        let window: Window?
        var decoder: SlotRowDecoder?
        var summary = Summary()

        init(path: String, window: Window?) {
            self.path = path
            self.window = window
        }

        /// A COPY line of `time_slots`: a decoder for its column order.
        mutating func begin(columns: [String], line: Int) throws {
            do throws(SlotRowDecoder.MissingColumns) {
                decoder = try SlotRowDecoder(columnNames: columns)
            } catch {
                throw SnapshotError(
                    .badCopyLine, source: path, line: line,
                    detail: "the COPY of time_slots lacks the columns \(error.names.joined(separator: ", "))")
            }
        }

        /// One row: handed to `body` when its slot is in the window, counted when outside,
        /// quarantined when it cannot be taken. The decoder's buffers are reused.
        mutating func take(_ line: UnsafeRawBufferPointer, number: Int, _ body: (TimeSlot, SourceLocation) throws -> Void) throws {
            summary.rows += 1
            switch decoder!.decode(line, window: window) {
            case .outside:
                summary.outsideWindow += 1
            case .inside(.slot(let slot)):
                if let window, !window.contains(slot.key.slotStart) {
                    summary.outsideWindow += 1
                } else {
                    try body(slot, SourceLocation(file: path, line: number))
                }
            case .inside(.rejected(let reason, let key)):
                if let window, let key, !window.contains(key.slotStart) {
                    summary.outsideWindow += 1
                } else {
                    summary.quarantined.append(
                        QuarantineRecord(location: SourceLocation(file: path, line: number), reason: reason, key: key))
                }
            }
        }

        /// One row for a batch: as `take`, with a row in the window appended to `batch` when
        /// `keep` takes its user, its texts copied from the row into the batch's arena; the
        /// batch's arrays are sized by how far `position` is through the file (`reserve`).
        mutating func take(
            _ line: UnsafeRawBufferPointer, number: Int, into batch: inout EventBatch, chunks: EventChunks?,
            position: DumpBlocks.Position, keep: (Int64) -> Bool
        ) throws {
            summary.rows += 1
            let textStart = batch.text.count
            switch decoder!.decodeForBatch(line, window: window, text: &batch.text) {
            case .outside:
                summary.outsideWindow += 1
            case .fields(let row):
                if let window, !window.contains(row.key.slotStart) {
                    summary.outsideWindow += 1
                    batch.text.removeSubrange(textStart...)
                } else if keep(row.key.userID) {
                    if batch.events.count == batch.events.capacity {
                        DumpReader.reserve(&batch, at: position.fraction, chunks: chunks)
                    }
                    try batch.appendSnapshotRow(row, textStart: textStart, at: SourceLocation(file: path, line: number), chunks: chunks)
                } else {
                    batch.text.removeSubrange(textStart...)
                }
            case .rejected(let reason, let key):
                if let window, let key, !window.contains(key.slotStart) {
                    summary.outsideWindow += 1
                } else {
                    summary.quarantined.append(
                        QuarantineRecord(location: SourceLocation(file: path, line: number), reason: reason, key: key))
                }
            }
        }

        /// The figures of the pass; a dump without a `time_slots` block is refused.
        func finish(_ blocks: DumpBlocks.Summary) throws -> Summary {
            var summary = self.summary
            let lines = blocks.lines
            summary.bytes = lines.bytes
            summary.sha256 = lines.sha256
            summary.copyLines = blocks.copyLines["time_slots"] ?? []
            for row in blocks.overlongRows {
                summary.rows += 1
                summary.quarantined.append(QuarantineRecord(
                    location: SourceLocation(file: path, line: row.line), reason: .lineTooLong(bytes: DumpBlocks.maxRowLength)))
            }
            if summary.copyLines.isEmpty {
                throw SnapshotError(
                    .noTimeSlotsBlock, source: path, line: lines.lines,
                    detail: "no COPY block of time_slots in the dump (\(lines.lines) lines read)")
            }
            return summary
        }
    }

    /// `custom`, `directory` or `tar` when `path` is a pg_dump archive, told by its header (the
    /// `PGDMP` magic; a `toc.dat` first in a ustar archive; a directory holding `toc.dat`), or nil.
    static func archiveFormat(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            return access(path + "/toc.dat", F_OK) == 0 ? "directory" : nil
        }
        guard let file = try? RegularFile(path) else { return nil }
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)
        defer { header.deallocate() }
        var count = 0
        while count < 512, let n = try? file.read(into: UnsafeMutableRawBufferPointer(rebasing: header[count...])), n > 0 {
            count += n
        }
        let bytes = Array(header[..<count])
        if bytes.starts(with: Array("PGDMP".utf8)) { return "custom" }
        if count >= 262, bytes.starts(with: Array("toc.dat".utf8)), Array(bytes[257..<262]) == Array("ustar".utf8) { return "tar" }
        return nil
    }

    /// Every row in the window as a fold event (`.snapshotRow` at its `updated_at`), appended to
    /// `batch` when `keep` takes its user; with `chunks`, the batch is handed to it as it fills.
    /// Before `batch`'s arrays grow: room for the rows the rest of the file should bring at the
    /// rate so far (and a quarter more), instead of doubling, whose copies touch twice the fresh
    /// memory; at most a chunk's worth with `chunks`. Too early in the file to tell, nothing.
    static func reserve(_ batch: inout EventBatch, at fraction: Double, chunks: EventChunks?) {
        let count = batch.events.count
        guard count >= 4096, fraction > 0.02, fraction < 1 else { return }
        var expected = Int(Double(count) / fraction * 1.25)
        if let chunks { expected = min(expected, chunks.events) }
        guard expected > count else { return }
        let textPerEvent = Double(batch.text.count) / Double(count)
        batch.events.reserveCapacity(expected)
        batch.versions.reserveCapacity(expected)
        batch.text.reserveCapacity(Int(textPerEvent * Double(expected) * 1.1))
    }

    /// The same rows as `forEachSlot`, with no `TimeSlot` or `String` made of them.
    public func forEachEvent(in window: Window? = nil, into batch: inout EventBatch, chunks: EventChunks? = nil, keep: (Int64) -> Bool) throws -> Summary {
        var pass = SlotPass(path: path, window: window)
        let position = DumpBlocks.Position()
        let blocks = try DumpBlocks(path: path, computeDigest: computeDigest).read(tables: ["time_slots"], position: position) { _, columns, line in
            try pass.begin(columns: columns, line: line)
        } row: { _, line, number in
            try pass.take(line, number: number, into: &batch, chunks: chunks, position: position, keep: keep)
        }
        let summary = try pass.finish(blocks)
        chunks?.offer(&batch, atEnd: true)
        return summary
    }
}

extension SourceError {
    var detail: String { description }
}

/// `COPY public.time_slots (id, user_id, ...) FROM stdin;` taken apart.
struct CopyStatement {
    /// The table's name without its schema, unquoted.
    var table: String
    var schema: String?
    var columns: [String]?
    var fromStdin: Bool

    init?(_ line: String) {
        var s = Substring(line)
        guard s.hasPrefix("COPY ") else { return nil }
        s = s.dropFirst(5)
        var names: [String] = []
        while true {
            guard let (name, rest) = Self.identifier(s) else { return nil }
            names.append(name)
            s = rest
            if s.first == "." { s = s.dropFirst() } else { break }
        }
        guard let table = names.last else { return nil }
        self.table = table
        self.schema = names.count > 1 ? names[names.count - 2] : nil
        s = s.drop(while: { $0 == " " })
        if s.first == "(" {
            s = s.dropFirst()
            var columns: [String] = []
            while true {
                s = s.drop(while: { $0 == " " })
                guard let (name, rest) = Self.identifier(s) else { return nil }
                columns.append(name)
                s = rest.drop(while: { $0 == " " })
                if s.first == "," { s = s.dropFirst(); continue }
                guard s.first == ")" else { return nil }
                s = s.dropFirst()
                break
            }
            self.columns = columns
        } else {
            self.columns = nil
        }
        s = s.drop(while: { $0 == " " })
        fromStdin = s.lowercased().hasPrefix("from stdin")
    }

    /// An identifier at the start of `s`: `"Quoted ""name"""` as written, or a bare name folded
    /// to lower case, as PostgreSQL reads them.
    static func identifier(_ s: Substring) -> (String, Substring)? {
        if s.first == "\"" {
            var name = ""
            var rest = s.dropFirst()
            while let c = rest.first {
                rest = rest.dropFirst()
                if c == "\"" {
                    if rest.first == "\"" {
                        name.append("\"")
                        rest = rest.dropFirst()
                    } else {
                        return (name, rest)
                    }
                } else {
                    name.append(c)
                }
            }
            return nil
        }
        let name = s.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "$" })
        guard !name.isEmpty else { return nil }
        return (name.lowercased(), s[name.endIndex...])
    }
}
