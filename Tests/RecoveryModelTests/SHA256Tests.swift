import RecoveryModel
import XCTest

final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            SHA256.hex(String(repeating: "a", count: 1_000_000)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testStreamingInPiecesEqualsOneShot() {
        let text = (0..<5000).map { "line \($0)\n" }.joined()
        let bytes = Array(text.utf8)
        for piece in [1, 7, 63, 64, 65, 1000] {
            let h = SHA256()
            var i = 0
            while i < bytes.count {
                h.update(bytes[i..<min(i + piece, bytes.count)])
                i += piece
            }
            XCTAssertEqual(h.finalize(), SHA256.hex(text), "piece \(piece)")
        }
    }

    func testCopyTextEscapes() {
        XCTAssertEqual(CopyTextWriter.field(nil), "\\N")
        XCTAssertEqual(CopyTextWriter.field("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re")
        XCTAssertEqual(CopyTextWriter.field("\u{8}\u{C}\u{B}"), "\\b\\f\\v")
        // Text with nothing to escape is copied at once: the same bytes either way.
        XCTAssertEqual(CopyTextWriter.field("logs/app-1.log.lz4"), "logs/app-1.log.lz4")
        XCTAssertEqual(CopyTextWriter.field("a long note without escapes, caf\u{E9} \u{1F600}"), "a long note without escapes, caf\u{E9} \u{1F600}")
        XCTAssertEqual(CopyTextWriter.field("a long note that ends with a tab\t"), "a long note that ends with a tab\\t")
        XCTAssertEqual(CopyTextWriter.arrayLiteral([]), "{}")
        XCTAssertEqual(CopyTextWriter.arrayLiteral(["Xcode", "a \"b\"", "c\\d", "NULL"]), #"{"Xcode","a \"b\"","c\\d","NULL"}"#)
        for apps in [[], ["Xcode"], ["a \"b\"", "c\\d\te\nf\rg", "é😀", ""]] {
            var bytes: [UInt8] = []
            CopyTextWriter.appendArrayField(apps, to: &bytes)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), CopyTextWriter.field(CopyTextWriter.arrayLiteral(apps)))
        }
    }

    /// The writers at a pointer write what the appending writers append, within the room they ask.
    func testCopyTextWrittenAtAPointerIsAppendedText() {
        let texts = ["", "Xcode", "a \"b\"", "c\\d\te\nf\rg\u{8}\u{B}\u{C}", "\\\\\"\"", "é😀", "Visual Studio Code and more than fifteen bytes",
                     String(repeating: "\\\"", count: 40)]
        for text in texts {
            var appended: [UInt8] = []
            CopyTextWriter.appendField(text, to: &appended)
            let room = CopyTextWriter.fieldRoom(text)
            let written = [UInt8](unsafeUninitializedCapacity: room) { buffer, count in
                count = CopyTextWriter.writeField(text, to: buffer.baseAddress!)
            }
            XCTAssertEqual(written, appended, text)
        }
        for apps in [[], ["Xcode"], texts, Array(texts.reversed()), [String(repeating: "\"", count: 100)]] {
            var appended: [UInt8] = []
            CopyTextWriter.appendArrayField(apps, to: &appended)
            let room = CopyTextWriter.arrayFieldRoom(apps)
            let written = [UInt8](unsafeUninitializedCapacity: room) { buffer, count in
                count = CopyTextWriter.writeArrayField(apps, to: buffer.baseAddress!)
            }
            XCTAssertEqual(written, appended, "\(apps)")
        }
    }
}
