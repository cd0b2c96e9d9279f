import RecoveryModel
import SourceFiles

/// The COPY blocks of a pg_dump plain-format file, table by table: the one pass over the lines
/// that every dump reader shares. Finds every `COPY <schema>.<table> (<columns>) FROM stdin;`
/// block, whatever the schema qualification or identifier quoting, and hands each row of a
/// wanted table to `row` with its line number; blocks of other tables are skipped. A wanted table
/// may have several blocks under one name (a partitioned table dumped with
/// `--load-via-partition-root`: one block per partition, all read). Blocks of it under two names
/// (a whole database's dump holding it in two schemas), or under one name in two databases (a
/// `pg_dumpall` file, each database after its `\connect`), are refused (`tableTwice`): their rows
/// would otherwise be read as one table's, the first of each key winning.
struct DumpBlocks {
    let path: String
    let computeDigest: Bool

    /// A row longer than this is not read: it is handed back in `Summary.overlongRows`.
    static let maxRowLength = 16 << 20

    struct Summary {
        var lines: LineReader.Summary
        /// For each wanted table, the lines of its COPY statements.
        var copyLines: [String: [Int]] = [:]
        /// The rows of wanted tables longer than `maxRowLength`, not handed to `row`: each
        /// reader quarantines them (`line_too_long`), so that none goes unsaid.
        var overlongRows: [(table: Int, line: Int)] = []
    }

    /// How far a read has gone through its file, for a reader that sizes its buffers by it.
    final class Position {
        fileprivate var reader: LineReader?

        /// The share of the file's bytes (compressed bytes for an LZ4 file) consumed so far.
        var fraction: Double {
            guard let reader, reader.fileSize > 0 else { return 0 }
            return Double(reader.bytesConsumed) / Double(reader.fileSize)
        }
    }

    /// `block` is called at each wanted table's COPY line with the table and its column list
    /// (it throws to refuse the block); `row` with the table's index in `tables`, each row's bytes
    /// (without the newline) and its line. `position` follows the read.
    func read(
        tables: [String],
        position: Position? = nil,
        block: (String, [String], Int) throws -> Void,
        row: (Int, UnsafeRawBufferPointer, Int) throws -> Void
    ) throws -> Summary {
        if let format = DumpReader.archiveFormat(path) {
            throw SnapshotError(.notPlainFormat, source: path, line: 0, detail: "a pg_dump \(format)-format archive, not a plain SQL dump")
        }
        // As for a log path: no file there is `source_not_found`, and a failure to open is the
        // file layer's error as it is (its code, message and hint).
        _ = try InputDiscovery.status(of: path)
        let reader = try LineReader(path: path, maxLineLength: Self.maxRowLength, computeDigest: computeDigest)
        position?.reader = reader
        defer { position?.reader = nil }
        var current: Int?
        var inOtherBlock = false
        var blockStart = 0
        var copyLines: [String: [Int]] = [:]
        var firstBlock: [String: (name: String, line: Int)] = [:]
        var lastConnect: Int?  // the line of the last `\connect` between blocks
        var wantedBlocks: [(table: Int, rows: ClosedRange<Int>)] = []
        let path = self.path

        let lines = try reader.forEachLine { line, number in
            if let table = current {
                if line.count == 2, line[0] == 0x5C, line[1] == 0x2E {   // \.
                    if number > blockStart + 1 { wantedBlocks.append((table, (blockStart + 1)...(number - 1))) }
                    current = nil
                    return
                }
                if line.count == 3, line[0] == 0x5C, line[1] == 0x2E, line[2] == 0x0D {   // \. and a carriage return
                    // Said for what it is: it was "no end marker ... the file ends" (found by a hostile test).
                    throw SnapshotError(
                        .badCopyLine, source: path, line: number,
                        detail: "the dump's lines end in CR LF (Windows line ends, added by an editor or a transfer): "
                            + "pg_dump writes LF only; convert it back (dos2unix, or tr -d '\\r') or take the dump again")
                }
                try row(table, line, number)
                return
            }
            if inOtherBlock {
                if line.count == 2, line[0] == 0x5C, line[1] == 0x2E { inOtherBlock = false }
                return
            }
            guard line.starts(with: "COPY ".utf8) else {
                if line.starts(with: "\\connect ".utf8) || line.starts(with: "\\c ".utf8) {
                    lastConnect = number
                } else if line.starts(with: "SET client_encoding = ".utf8) {
                    let text = String(decoding: line, as: UTF8.self)
                    if !text.uppercased().contains("'UTF8'") {
                        throw SnapshotError(
                            .unsupportedEncoding, source: path, line: number, detail: "the dump is not in UTF-8: \(text)")
                    }
                }
                return
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let copy = CopyStatement(text), copy.fromStdin else { return }
            blockStart = number
            guard let index = tables.firstIndex(of: copy.table) else {
                inOtherBlock = true
                return
            }
            let name = copy.schema.map { "\($0).\(copy.table)" } ?? copy.table
            if let first = firstBlock[copy.table] {
                let otherDatabase = lastConnect.flatMap { $0 > first.line ? $0 : nil }
                if first.name != name || otherDatabase != nil {
                    let place = otherDatabase.map { ", in another database: \\connect at line \($0)" } ?? ""
                    throw SnapshotError(
                        .tableTwice, source: path, line: number,
                        detail: "the dump holds more than one COPY block of \(copy.table) (\(name) at line \(number), "
                            + "\(first.name) at line \(first.line)\(place)): which is the service's table cannot be told")
                }
            } else {
                firstBlock[copy.table] = (name, number)
            }
            guard let columns = copy.columns else {
                throw SnapshotError(.badCopyLine, source: path, line: number, detail: "the COPY of \(copy.table) has no column list")
            }
            var named = Set<String>()
            if let twice = columns.first(where: { !named.insert($0).inserted }) {
                throw SnapshotError(.badCopyLine, source: path, line: number, detail: "the COPY of \(copy.table) names \(twice) more than once")
            }
            try block(copy.table, columns, number)
            copyLines[copy.table, default: []].append(number)
            current = index
        }
        if current != nil || inOtherBlock {
            let cause = lines.damage.map { "the file is \($0)" } ?? "the file ends"
            throw SnapshotError(
                .truncated, source: path, line: lines.lines,
                detail: "the COPY block that starts at line \(blockStart) has no end marker '\\.': \(cause)")
        }
        if let damage = lines.damage {
            throw SnapshotError(.truncated, source: path, line: lines.lines, detail: "the file is \(damage)")
        }
        let overlongRows = lines.overlongLines.compactMap { line in
            wantedBlocks.first { $0.rows.contains(line) }.map { (table: $0.table, line: line) }
        }
        return Summary(lines: lines, copyLines: copyLines, overlongRows: overlongRows)
    }
}
