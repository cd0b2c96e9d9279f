import RecoveryModel
import XCTest
@testable import PlanReport

/// The reports escape over UTF-8 bytes, copying the runs that need nothing: the same text as the
/// scalar-by-scalar definitions they had, on random hostile strings and on the edge cases of the
/// runs (an escape or a special byte first, last, or next to another).
final class ReportEscapeTests: XCTestCase {
    func testHTMLAndMarkdownEscapesAreTheScalarDefinitions() {
        var random = SplitMix64(seed: 11)
        for sample in Self.edges + (0..<20_000).map({ _ in Self.hostile(&random) }) {
            XCTAssertEqual(Array(HTML.escape(sample).utf8), Array(Self.html(sample).utf8), sample.debugDescription)
            XCTAssertEqual(Array(Markdown.text(sample).utf8), Array(Self.markdownText(sample).utf8), sample.debugDescription)
            for inTable in [false, true] {
                XCTAssertEqual(Array(Markdown.code(sample, inTable: inTable).utf8),
                               Array(Self.markdownCode(sample, inTable: inTable).utf8), sample.debugDescription)
            }
            var csv: [UInt8] = []
            CSVText.appendText(sample, to: &csv)
            XCTAssertEqual(csv, Array(CSVText.quoted(CSVText.guarded(VisibleText.escaped(sample, keepingLayout: true))).utf8),
                           sample.debugDescription)
        }
    }

    func testHostileTextInTheReports() {
        XCTAssertEqual(HTML.escape("a&b<c>\"d'\u{0}\u{9B}\u{202E}"), "a&amp;b&lt;c&gt;&quot;d&#39;\\u0000\\u009b\\u202e")
        XCTAssertEqual(Markdown.text("\u{1B}*x*\u{2066}"), "\\\\u001b\\*x\\*\\\\u2066")
        XCTAssertEqual(Markdown.code("``a```\u{7}`", inTable: true), "```` ``a```\\u0007` ````")
        // A greek varia (U+1FEF) is a backtick under canonical equivalence: `hasPrefix` pads it.
        XCTAssertEqual(Markdown.code("\u{1FEF}a"), Self.markdownCode("\u{1FEF}a", inTable: false))
        XCTAssertEqual(Markdown.code("`\u{301}a"), Self.markdownCode("`\u{301}a", inTable: false))
        var csv: [UInt8] = []
        CSVText.appendText("=say \"hi\", \"you\"", to: &csv)
        XCTAssertEqual(String(decoding: csv, as: UTF8.self), "\"'=say \"\"hi\"\", \"\"you\"\"\"")
    }

    func testProvenanceMadeAsBytesIsTheJoinedDescriptions() {
        let cases: [[Provenance]] = [
            [],
            [Provenance(kind: .log, location: SourceLocation(file: "logs/app-1.log.lz4", line: 17))],
            [Provenance(kind: .log, location: SourceLocation(file: "a,b \"c\" \u{1B}é", line: 0)),
             Provenance(kind: .snapshot, location: SourceLocation(file: "", line: -3)),
             Provenance(kind: .snapshot, location: SourceLocation(file: "host=db1 dbname=x", line: Int.max))],
        ]
        for provenance in cases {
            XCTAssertEqual(Array(ProvenanceText.bytewiseJoined(provenance).utf8), Array(ProvenanceText.joined(provenance).utf8))
        }
    }

    // MARK: The definitions the reports had

    static func html(_ value: String) -> String {
        var out = ""
        for scalar in VisibleText.escaped(value).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\0": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func markdownText(_ value: String) -> String {
        let active: Set<Unicode.Scalar> = ["\\", "`", "*", "_", "[", "]", "<", ">", "|", "&", "~", "#"]
        var out = ""
        for scalar in VisibleText.escaped(value).unicodeScalars {
            if active.contains(scalar) { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    static func markdownCode(_ value: String, inTable: Bool) -> String {
        var body = ""
        var run = 0, longest = 0
        for scalar in VisibleText.escaped(value).unicodeScalars {
            run = scalar == "`" ? run + 1 : 0
            longest = max(longest, run)
            if scalar == "|" && inTable {
                body += "\\|"
            } else {
                body.unicodeScalars.append(scalar)
            }
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = body.hasPrefix("`") || body.hasSuffix("`") ? " " : ""
        return fence + pad + body + pad + fence
    }

    // MARK: Samples

    static let edges = [
        "", "`", "``", "|", "\"", "&", "\u{1B}", "\u{85}", "\u{202E}", "\u{2069}", "\u{2070}", "\u{2027}", "\u{061B}", "\u{061C}",
        "`a`", "a`", "`\u{1B}`", "\u{1B}`\u{1B}", "a|`|b", "\u{1FEF}", "a\u{1FEF}", "\u{1FEF}`", "`\u{301}", "\u{600}`",
        "=x", "-", "\t", "\r", "\n", "a,b\"c", "\"\u{301}", "naïve — 東京 ✓ 🙂", "log app-1.log:17; log app-1.log:18",
    ]


    /// Up to 24 scalars: what the formats act on, controls, C1, the neighbours of the bidi marks
    /// (same first bytes), Arabic, combining marks, Prepend and emoji, and plain ASCII.
    static func hostile(_ random: inout SplitMix64) -> String {
        let special = Array("&<>\"'`|\\*_[]~#,=+-@\t\r\n".unicodeScalars)
        let pools: [ClosedRange<UInt32>] = [
            0x00...0x7F, 0x20...0x7E, 0x7F...0xFF, 0x0600...0x063F, 0x2000...0x207F, 0x0300...0x036F,
            0x1F600...0x1F64F, 0x1FEF...0x1FEF, 0x0600...0x0605, 0xFFF0...0xFFFF,
        ]
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...24, using: &random) {
            if Bool.random(using: &random) {
                scalars.append(special[Int.random(in: 0..<special.count, using: &random)])
            } else if let scalar = Unicode.Scalar(UInt32.random(in: pools[Int.random(in: 0..<pools.count, using: &random)], using: &random)) {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
