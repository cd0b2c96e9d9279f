import Foundation
import PlanReport
import TestSupport
import XCTest

/// `report.html` in a real browser: headless Chromium (Debian's `chromium` package) parses the
/// page, keeps the SVG, and draws something. `scripts/test.sh` installs Chromium; without it this
/// test fails instead of passing silently.
final class ChromiumRenderTests: XCTestCase {
    /// `chromium` on `PATH`, else a clear failure.
    func chromium() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/chromium"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw MissingChromium()
    }

    struct MissingChromium: Error, CustomStringConvertible {
        var description: String {
            "chromium is not installed: install Debian's 'chromium' package "
                + "(RECOVER_WITH_CHROMIUM=1 bash scripts/setup.sh does it); report.html cannot be checked without it"
        }
    }

    /// Flags for a headless run as any user (root needs --no-sandbox), with a throwaway profile.
    func flags(profile: String) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--no-first-run", "--user-data-dir=\(profile)"]
    }

    func testReportDrawsInHeadlessChromium() throws {
        let browser = try chromium()
        let tmp = try TemporaryDirectory(prefix: "plan-chromium")
        let dir = tmp.path + "/plan"
        _ = try PlanWriter.write(Incident.evidence(), to: dir)
        let page = "file://" + dir + "/report.html"
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)

        // The DOM after parsing: the SVG and every shape survived.
        let dom = try runProcess(browser, flags(profile: tmp.path + "/profile-dom") + ["--dump-dom", page])
        XCTAssertEqual(dom.status, 0, dom.stderrText)
        XCTAssertEqual(occurrences("<svg", dom.stdoutText), 1)
        XCTAssertEqual(occurrences("<rect", dom.stdoutText), occurrences("<rect", html))
        XCTAssertEqual(occurrences("class=\"bucket\"", dom.stdoutText), 9)
        XCTAssertTrue(dom.stdoutText.contains("WARNING: the evidence is incomplete (3 warnings)"))

        // A screenshot of the page, and one of a blank page to compare with.
        let shot = tmp.path + "/report.png"
        let run = try runProcess(browser, flags(profile: tmp.path + "/profile-shot")
            + ["--screenshot=\(shot)", "--window-size=1400,1000", page])
        XCTAssertEqual(run.status, 0, run.stderrText)
        let blankPage = tmp.path + "/blank.html"
        try Data("<!DOCTYPE html><html><body></body></html>".utf8).write(to: URL(fileURLWithPath: blankPage))
        let blankShot = tmp.path + "/blank.png"
        _ = try runProcess(browser, flags(profile: tmp.path + "/profile-blank")
            + ["--screenshot=\(blankShot)", "--window-size=1400,1000", "file://" + blankPage])

        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        let size = try XCTUnwrap(pngSize(png), "report.png is not a PNG")
        XCTAssertEqual(size.width, 1400)
        XCTAssertEqual(size.height, 1000)
        let blank = try Data(contentsOf: URL(fileURLWithPath: blankShot))
        XCTAssertNotNil(pngSize(blank))
        XCTAssertGreaterThan(png.count, 10 * blank.count, "report.png (\(png.count) bytes) looks blank (a blank page: \(blank.count) bytes)")
        if let keep = ProcessInfo.processInfo.environment["RECOVER_KEEP_SCREENSHOT"] {
            // For a look by eye: the screenshot and the page it shows.
            try png.write(to: URL(fileURLWithPath: keep))
            try Data(html.utf8).write(to: URL(fileURLWithPath: keep + ".html"))
        }
    }

    func occurrences(_ needle: String, _ text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// Width and height from a PNG's IHDR chunk, nil when the data is not a PNG.
    func pngSize(_ data: Data) -> (width: Int, height: Int)? {
        let bytes = [UInt8](data.prefix(24))
        guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
              bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
        func be32(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }
}
