import RecoveryModel
import XCTest

/// Row 6 of issue 10: input text never drives the terminal or reorders what is read.
final class VisibleTextTests: XCTestCase {
    func testControlAndBidiCharactersAreEscapedVisibly() {
        XCTAssertEqual(VisibleText.escaped("app-1"), "app-1")
        XCTAssertEqual(VisibleText.escaped("\u{1B}[2J\u{1B}[31mapp\u{7}"), "\\u001b[2J\\u001b[31mapp\\u0007")
        XCTAssertEqual(VisibleText.escaped("a\u{0}b\u{7F}c\u{85}d\u{9B}e"), "a\\u0000b\\u007fc\\u0085d\\u009be")
        XCTAssertEqual(VisibleText.escaped("user\u{202E}gpj.exe"), "user\\u202egpj.exe")
        XCTAssertEqual(
            VisibleText.escaped("\u{61C}\u{200E}\u{200F}\u{202A}\u{202B}\u{202C}\u{202D}\u{2066}\u{2067}\u{2068}\u{2069}\u{2028}\u{2029}"),
            "\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069\\u2028\\u2029")
        XCTAssertEqual(VisibleText.escaped("two\nlines\tand\rcr"), "two\\u000alines\\u0009and\\u000dcr")
        XCTAssertEqual(VisibleText.escaped("two\nlines\tand\rcr", keepingLayout: true), "two\nlines\tand\\u000dcr")
        XCTAssertEqual(VisibleText.escaped("naïve — 東京 ✓"), "naïve — 東京 ✓", "ordinary text is untouched")
    }

    /// Every scalar that can move the cursor, ring, or reorder text is escaped: a sweep of the
    /// ranges, not a list of examples.
    func testNoControlOrBidiScalarSurvives() {
        var all = String.UnicodeScalarView()
        for value in UInt32(0)...0x2FFF {
            if let scalar = Unicode.Scalar(value) { all.append(scalar) }
        }
        let shown = VisibleText.escaped(String(all))
        for scalar in shown.unicodeScalars {
            XCTAssertFalse(scalar.properties.generalCategory == .control, "U+\(String(scalar.value, radix: 16))")
            XCTAssertFalse(scalar.properties.isBidiControl, "U+\(String(scalar.value, radix: 16))")
            XCTAssertFalse(scalar.value == 0x2028 || scalar.value == 0x2029)
        }
    }

    /// `escaped` reads UTF-8 bytes and copies the runs between escapes: the same text as the
    /// scalar-by-scalar definition, on every scalar up to U+2FFF and on random hostile strings.
    func testBytewiseEscapeIsTheScalarDefinition() {
        var all = String.UnicodeScalarView()
        for value in UInt32(0)...0x2FFF {
            if let scalar = Unicode.Scalar(value) { all.append(scalar) }
        }
        for keepingLayout in [false, true] {
            XCTAssertEqual(Array(VisibleText.escaped(String(all), keepingLayout: keepingLayout).utf8),
                           Array(Self.reference(String(all), keepingLayout: keepingLayout).utf8))
        }
        var random = SplitMix64(seed: 10)
        for _ in 0..<20_000 {
            let sample = Self.hostile(&random)
            for keepingLayout in [false, true] {
                XCTAssertEqual(Array(VisibleText.escaped(sample, keepingLayout: keepingLayout).utf8),
                               Array(Self.reference(sample, keepingLayout: keepingLayout).utf8), sample.debugDescription)
            }
        }
    }

    /// The definition `escaped` had, one scalar at a time.
    static func reference(_ text: String, keepingLayout: Bool) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if VisibleText.needsEscape(scalar, keepingLayout: keepingLayout) {
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }


    /// Up to 24 scalars, most near the escaped ones: controls, C1, the neighbours of the bidi
    /// marks (same first bytes), Arabic, Latin-1, combining marks, emoji, and plain ASCII.
    static func hostile(_ random: inout SplitMix64) -> String {
        let pools: [ClosedRange<UInt32>] = [
            0x00...0x7F, 0x20...0x7E, 0x7F...0xFF, 0x0600...0x063F, 0x2000...0x207F, 0x2060...0x206F,
            0x0300...0x036F, 0x1F600...0x1F64F, 0x3040...0x30FF, 0x1FEF...0x1FEF, 0x0060...0x0060, 0xFFF0...0xFFFF,
        ]
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...24, using: &random) {
            let pool = pools[Int.random(in: 0..<pools.count, using: &random)]
            if let scalar = Unicode.Scalar(UInt32.random(in: pool, using: &random)) { scalars.append(scalar) }
        }
        return String(scalars)
    }
}
