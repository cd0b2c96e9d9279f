import Foundation
import RecoveryModel
import XCTest

/// `TimeSlotColumns` is the one description of `time_slots`: it matches the service schema, and no
/// SQL in the tree names a `time_slots` column it does not have.
final class TimeSlotColumnsTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)  // Tests/RecoveryModelTests/THIS
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testTheTableIsTheServiceSchema() throws {
        let schema = try String(contentsOf: Self.root.appendingPathComponent("fixtures/schema.sql"), encoding: .utf8)
        let body = try XCTUnwrap(schema.components(separatedBy: "CREATE TABLE time_slots (").last?.components(separatedBy: "\n);").first)
        var columns: [(String, String, Bool)] = []
        for line in body.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count >= 2, words[0] != "UNIQUE" else { continue }
            let type = words[1] == "bigserial" ? "bigint" : words[1].trimmingCharacters(in: [","])
            let notNull = line.contains("NOT NULL") || line.contains("PRIMARY KEY")
            columns.append((words[0], type, !notNull))
        }
        XCTAssertEqual(columns.map(\.0), TimeSlotColumns.names)
        for (name, type, nullable) in columns {
            let column = try XCTUnwrap(TimeSlotColumns.named(name))
            XCTAssertEqual(column.sqlType, type, name)
            XCTAssertEqual(column.nullable, nullable, name)
        }
    }

    /// The `time_slots` columns `text` names in SQL: column lists after `time_slots (`,
    /// `time_slots.NAME`, and `ALIAS.NAME` where the text says `time_slots ALIAS`. Lists built by
    /// interpolation (`\(`) derive from the table and are skipped.
    static func namedColumns(in text: String) -> [String] {
        var names: [String] = []
        let lists = try! NSRegularExpression(pattern: #"time_slots\s*\(([^()]*)\)"#)
        let dotted = try! NSRegularExpression(pattern: #"\btime_slots\.([a-z_]+)\b"#)
        let aliases = try! NSRegularExpression(pattern: #"\btime_slots\s+(?:AS\s+)?([a-z])\b"#)
        let range = NSRange(text.startIndex..., in: text)
        func group(_ m: NSTextCheckingResult) -> String { String(text[Range(m.range(at: 1), in: text)!]) }
        for m in lists.matches(in: text, range: range) {
            let list = group(m)
            if list.contains("\\") || list.contains("$") { continue }
            let items = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            // Prose in parentheses ("(.sql, .sql.lz4)") is not a column list.
            guard items.allSatisfy({ $0.range(of: #"^[a-z_][a-z0-9_]*$"#, options: .regularExpression) != nil }) else { continue }
            names += items
        }
        for m in dotted.matches(in: text, range: range) where !["sql", "lz4", "copy", "csv", "tsv"].contains(group(m)) {
            names.append(group(m))
        }
        for alias in Set(aliases.matches(in: text, range: range).map(group)) {
            // Only an alias the text gives time_slots alone.
            let other = try! NSRegularExpression(pattern: #"\b(?!time_slots\b)[a-z_]+\s+(?:AS\s+)?"# + alias + #"\s+(?:ON|WHERE|JOIN|USING|,|\))"#)
            if other.firstMatch(in: text, range: range) != nil { continue }
            let uses = try! NSRegularExpression(pattern: #"\b"# + alias + #"\.([a-z_]+)\b"#)
            names += uses.matches(in: text, range: range).map(group)
        }
        return names
    }

    func testTheScannerFindsABadColumn() {
        XCTAssertEqual(Self.namedColumns(in: "INSERT INTO time_slots (user_id, slot_begin) VALUES"), ["user_id", "slot_begin"])
        XCTAssertEqual(Self.namedColumns(in: "SELECT t.user_idx FROM time_slots t WHERE t.id = 1"), ["user_idx", "id"])
        XCTAssertEqual(Self.namedColumns(in: "newest time_slots.updated_at; time_slots.sql"), ["updated_at"])
        XCTAssertEqual(Self.namedColumns(in: "a pg_dump of time_slots (.sql, .sql.lz4)"), [])
    }

    func testNoSQLNamesAColumnTimeSlotsLacks() throws {
        let fm = FileManager.default
        var checked = 0
        for folder in ["Sources", "Tools/Sources", "scripts", "runbooks", "fixtures", "Tests"] {
            let base = Self.root.appendingPathComponent(folder)
            guard let walker = fm.enumerator(atPath: base.path) else { continue }
            for case let relative as String in walker
            where [".swift", ".sh", ".py", ".sql"].contains(where: relative.hasSuffix) && !relative.contains("/demo/")
                && !relative.hasSuffix("TimeSlotColumnsTests.swift") {
                let path = base.appendingPathComponent(relative).path
                // Generated data files are large and hold no SQL of the tool's.
                guard let size = (try? fm.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue, size < 2_000_000,
                      let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
                for name in Self.namedColumns(in: text) {
                    checked += 1
                    XCTAssertNotNil(TimeSlotColumns.named(name), "\(folder)/\(relative) names time_slots.\(name)")
                }
            }
        }
        XCTAssertGreaterThan(checked, 30, "the scan found the tree's SQL")
    }
}
