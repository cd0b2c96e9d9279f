import ConflictResolver
import PlanFormat
import RecoveryModel
import SlotFold
import TestSupport
import XCTest
@testable import PlanReport

/// The rows file and `recovered.csv` take each path and each day's date from `RepeatedText`
/// instead of writing them per row: every row must read as if it had been written field by field.
final class RowTextTests: XCTestCase {
    /// Paths that need COPY escapes, CSV quotes, a visible escape, or nothing; more of them than
    /// `RepeatedText` keeps in a list; times with and without fractions, across days and years.
    private func slots() -> [FoldedSlot] {
        var paths = ["logs/app-1.log", "logs/tab\there.log", "logs/back\\slash.log", "logs/comma,name.log",
                     "logs/say \"hi\".log", "logs/caf\u{E9}.log", "logs/bell\u{7}.log", "=formula.log"]
        paths += (0..<20).map { "logs/many/app-\($0).jsonl.lz4" }
        let times = ["2018-07-25T14:50:00Z", "2018-07-25T23:50:00Z", "2018-07-26T00:00:00Z", "2018-07-26T00:00:00.5Z",
                     "2018-07-26T00:10:00.000001Z", "1999-12-31T23:50:00Z", "2000-01-01T00:00:00Z", "1969-12-31T23:59:59Z"]
        var slots: [FoldedSlot] = []
        for i in 0..<200 {
            let slot = TimeSlot(
                key: SlotKey(userID: Int64(1000 + i / 7), slotStart: Timestamp.parse(times[i % times.count])!),
                projectID: 7, taskID: i % 3 == 0 ? nil : 70, durationMinutes: 10, status: .active,
                activityLevel: i % 4 == 0 ? nil : 5, keystrokes: Int32(i), mouseEvents: -1,
                activeApps: i % 2 == 0 ? ["Xcode", "Visual Studio Code"] : i % 3 == 0 ? ["say \"hi\"", "back\\slash", "tab\there", "caf\u{E9} and a name past fifteen bytes"] : [], screenshotKey: nil, note: i % 5 == 0 ? "a\tnote" : nil)
            // A fresh copy of a path now and then: equal text behind other string storage.
            let path = i % 11 == 0 ? String(paths[i % paths.count].utf8.map { Character(Unicode.Scalar($0)) }) : paths[i % paths.count]
            let provenance = (0..<(i % 3)).map { Provenance(kind: $0 == 0 ? .snapshot : .log, location: SourceLocation(file: $0 == 0 ? path : paths[(i + 5) % paths.count], line: i * 10 + $0)) }
            slots.append(FoldedSlot(slot: slot, provenance: provenance))
        }
        return slots
    }

    func testNumbersAreWrittenAsStringWritesThem() {
        var out = TextBuffer()
        let values: [Int64] = [0, 7, -7, 10, -10, 99, 100, 1_234_567_890, Int64.max, Int64.min, Int64.min + 1]
        for v in values { out.append(v); out.append(byte: 0x20) }
        out.append(Int32.min); out.append(byte: 0x20)
        out.append(Int16(-1)); out.append(byte: 0x20)
        out.append(Int16.max)
        XCTAssertEqual(out.text, (values.map { String($0) } + [String(Int32.min), "-1", String(Int16.max)]).joined(separator: " "))
    }

    func testDecimalTextIsStringOfTheValue() {
        var values: [Int64] = Array(0...100_000) + [Int64.max, Int64.min, Int64.min + 1, -1, -10, -99_999_999, -100_000_000]
        var power: Int64 = 1
        while power <= Int64.max / 10 {
            values += [power - 1, power, power + 1, 9 * power, 9 * power + power - 1]
            power *= 10
        }
        var random = SystemRandomNumberGenerator()
        values += (0..<100_000).map { _ in Int64.random(in: 0..<100_000_000, using: &random) }
        values += (0..<10_000).map { _ in Int64.random(in: Int64.min...Int64.max, using: &random) }
        let memory = PieceMemory(capacity: 64)
        for value in values {
            memory.count = 0
            var out = PieceWriter(memory)
            out.reserve(24)
            out.put(DecimalText(value))
            out.finish()
            XCTAssertEqual(memory.withBytes { String(decoding: $0, as: UTF8.self) }, String(value))
        }
    }

    /// A file written with O_DIRECT in aligned blocks (and its tail without) holds the bytes
    /// given, in pieces of any size, as a file written plainly does; the digest is the same.
    func testPlanFileOutputWritesTheBytesGivenDirectOrNot() throws {
        let dir = try TemporaryDirectory(prefix: "file-output")
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<(3 << 20) + 4097).map { _ in UInt8.random(in: 0...255, using: &random) }
        for total in [0, 1, 4095, 4096, 4097, 1 << 20, (1 << 20) + 1, bytes.count] {
            for direct in [true, false] {
                for piece in [1000, 4096, 65_537, 1 << 20] where piece <= max(total, 1000) * 2 {
                    let path = dir.path + "/f-\(total)-\(direct)-\(piece)"
                    let output = try PlanFileOutput(path: path, direct: direct)
                    var at = 0
                    while at < total {
                        let n = min(piece, total - at)
                        try bytes.withUnsafeBytes { try output.write(UnsafeRawBufferPointer(rebasing: $0[at..<(at + n)])) }
                        at += n
                    }
                    let written = try output.finish()
                    let expected = FileDigest.of(Array(bytes[..<total]))
                    XCTAssertEqual(written.sha256, expected.sha256, path)
                    XCTAssertEqual(written.bytes, Int64(total), path)
                    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(bytes[..<total]), path)
                }
            }
        }
    }

    #if os(Linux)
    /// A full disk is reported as before (exit 65 in `plan`), whether the bytes go directly or not.
    func testPlanFileOutputReportsAFullDisk() throws {
        for direct in [true, false] {
            let output = try PlanFileOutput(path: "/dev/full", direct: direct)
            let chunk = [UInt8](repeating: 0x41, count: 300_000)
            XCTAssertThrowsError(try {
                for _ in 0..<8 { try chunk.withUnsafeBytes { try output.write($0) } }
                _ = try output.finish()
            }()) { error in
                XCTAssertEqual((error as? PlanError)?.message, "cannot write '/dev/full': no space left on the device")
            }
        }
    }
    #endif

    /// More distinct `active_apps` lists than `RepeatedText` keeps the text of: each row still
    /// has its own list.
    func testManyDistinctAppListsAreWrittenAsFieldByField() throws {
        let base = slots()
        var slots: [FoldedSlot] = []
        for i in 0..<6000 {
            var folded = base[i % base.count]
            folded.slot.activeApps = (0..<(i % 7)).map { "app \(i) \($0) " + String(repeating: "x\\", count: i % 50) }
            slots.append(folded)
            // The same list again, in another array.
            folded.slot.activeApps = folded.slot.activeApps.map { String($0.utf8.map { Character(Unicode.Scalar($0)) }) }
            slots.append(folded)
        }
        let dir = try TemporaryDirectory(prefix: "app-lists")
        let path = dir.path + "/rows.tsv"
        _ = try PlanWriter.writeRows(slots, to: path)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, slots.count + 1)
        for (line, folded) in zip(lines, slots) {
            XCTAssertEqual(line.split(separator: "\t", omittingEmptySubsequences: false)[9],
                           Substring(CopyTextWriter.field(CopyTextWriter.arrayLiteral(folded.slot.activeApps))))
        }
    }

    func testRowsAreWrittenAsFieldByField() throws {
        let dir = try TemporaryDirectory(prefix: "row-text")
        let path = dir.path + "/rows.tsv"
        let slots = slots()
        _ = try PlanWriter.writeRows(slots, to: path)
        let expected = slots.map { f -> String in
            let s = f.slot
            let provenance = f.provenance.map { "\($0.kind.rawValue) \(CopyTextWriter.field($0.location.file)):\($0.location.line)" }
            return [String(s.key.userID), String(s.projectID), s.taskID.map { String($0) } ?? "\\N", s.key.slotStart.rfc3339,
                    String(s.durationMinutes), s.status.rawValue, s.activityLevel.map { String($0) } ?? "\\N",
                    String(s.keystrokes), String(s.mouseEvents), CopyTextWriter.field(CopyTextWriter.arrayLiteral(s.activeApps)),
                    CopyTextWriter.field(s.note), provenance.joined(separator: "; ")].joined(separator: "\t") + "\n"
        }.joined()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), expected)
    }

    func testRecoveredCSVIsWrittenAsFieldByField() {
        var evidence = Incident.evidence()
        evidence.resolution.recovered = slots()
        let expected = CSVText.record(RecoveredCSV.header) + evidence.resolution.recovered.map { f -> String in
            let s = f.slot
            return CSVText.record([
                String(s.key.userID), s.key.slotStart.rfc3339, String(s.durationMinutes), String(s.projectID),
                s.taskID.map { String($0) } ?? "", s.status.rawValue, s.activityLevel.map { String($0) } ?? "",
                String(s.keystrokes), String(s.mouseEvents), CSVText.text(ProvenanceText.joined(f.provenance)),
            ])
        }.joined()
        XCTAssertEqual(RecoveredCSV.render(evidence), expected)
    }

    /// The rows file and `recovered.csv` are made in pieces of slots on every core and written in
    /// order: the plan directory is the same whatever the pieces.
    func testPiecesOfAnySizeWriteTheSameDirectory() throws {
        var evidence = Incident.evidence()
        evidence.resolution.recovered = slots()
        let tmp = try TemporaryDirectory(prefix: "pieces")
        for name in ["whole", "1", "3", "64", "199"] {
            try FileManager.default.createDirectory(atPath: tmp.path + "/" + name, withIntermediateDirectories: false)
        }
        let whole = try PlanWriter.writeFiles(evidence, into: tmp.path + "/whole")
        let one = try String(contentsOfFile: tmp.path + "/whole/" + PlanDocument.rowsFileName, encoding: .utf8)
        XCTAssertEqual(one.split(separator: "\n").count, 200)
        for size in [1, 3, 64, 199] {
            let pieces = try PlanWriter.writeFiles(evidence, into: tmp.path + "/\(size)", slotsPerPiece: size)
            XCTAssertEqual(pieces.document, whole.document, "\(size) slots a piece")
            for file in whole.files {
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/\(size)/" + file)),
                               try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/whole/" + file)), "\(file), \(size) slots a piece")
            }
        }
    }

    /// The human reports' content is made before the plan id exists and completed by the finished
    /// document: the reports are the ones made from that document at once.
    func testTheReportsAreTheOnesMadeFromTheFinishedDocument() throws {
        for zone in ["America/Los_Angeles", nil] {
            let evidence = Incident.evidence(zone: zone)
            let tmp = try TemporaryDirectory(prefix: "reports")
            let document = try PlanWriter.write(evidence, to: tmp.path + "/plan").document
            XCTAssertEqual(try String(contentsOfFile: tmp.path + "/plan/report.md", encoding: .utf8),
                           MarkdownReport.render(document, evidence), "report.md, zone \(zone ?? "none")")
            XCTAssertEqual(try String(contentsOfFile: tmp.path + "/plan/report.html", encoding: .utf8),
                           HTMLReport.render(document, evidence), "report.html, zone \(zone ?? "none")")
        }
    }

    /// plan.json is encoded without its users and files beside the reports, then the lists are put
    /// in: the same text as the document encoded whole.
    func testPlanJSONWithItsUsersAndFilesPutInIsTheDocumentEncodedWhole() throws {
        let tmp = try TemporaryDirectory(prefix: "plan-json")
        var document = try PlanWriter.write(Incident.evidence(), to: tmp.path + "/plan").document
        XCTAssertGreaterThan(document.files.count, 3)
        let whole = try PlanJSON.encode(document)
        XCTAssertEqual(try String(contentsOfFile: tmp.path + "/plan/plan.json", encoding: .utf8), whole)
        let files = document.files, users = document.users
        XCTAssertFalse(users.isEmpty)
        document.files = []
        document.users = []
        let emptyFiles = PlanWriter.member(try JSONOutput.encode(PlanWriter.Files(files: [])))
        let emptyUsers = PlanWriter.member(try JSONOutput.encode(PlanWriter.Users(users: [])))
        let filled = try PlanWriter.filling(
            PlanWriter.filling(PlanJSON.encode(document), emptyUsers, with: PlanWriter.usersMember(users)),
            emptyFiles, with: PlanWriter.member(JSONOutput.encode(PlanWriter.Files(files: files))))
        XCTAssertEqual(filled, whole)
        XCTAssertEqual(try PlanWriter.filling(PlanJSON.encode(document), emptyFiles, with: emptyFiles), try PlanJSON.encode(document))
    }

    /// plan.json's users are written directly, as JSONEncoder writes them.
    func testUsersAreWrittenAsJSONEncoderWritesThem() throws {
        var users: [PlanDocument.UserTotals] = []
        for id in [1, 42, 1_000_000_007, Int64.max] {
            var u = PlanDocument.UserTotals(userID: id)
            (u.recovered, u.recoveredMinutes, u.alreadyPresent, u.offlineOverlap, u.quarantined) = (1, 22, 333, 4_444, 55_555)
            users.append(u)
        }
        users.append(PlanDocument.UserTotals(userID: 7))
        for list in [[], Array(users.prefix(1)), users] {
            XCTAssertEqual(try PlanWriter.usersMember(list), PlanWriter.member(try JSONOutput.encode(PlanWriter.Users(users: list))))
        }
    }
}
