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
}
