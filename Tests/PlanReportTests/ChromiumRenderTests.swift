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

    /// At a desktop width (1400 px) and a phone's (400 px): the page never scrolls sideways, the
    /// warnings are on screen, and every cell of the inputs' Health column lies inside the viewport
    /// with a size. Measured by Chromium itself: a copy of the page with a measuring script (the
    /// report has none) is shown in a frame of that width (headless Chromium's window is at least
    /// 500 px wide) and writes its layout into the frame's parent.
    func testReportFitsWideAndNarrowScreens() throws {
        let browser = try chromium()
        let tmp = try TemporaryDirectory(prefix: "plan-widths")
        let dir = tmp.path + "/plan"
        _ = try PlanWriter.write(Incident.evidence(), to: dir)
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("@media"))
        let measure = """
            <script>
            const box = e => { const b = e.getBoundingClientRect(); return {left: b.left, right: b.right, width: b.width, height: b.height}; };
            const warning = document.querySelector("section.warning");
            const layout = {viewport: document.documentElement.clientWidth, page: document.documentElement.scrollWidth,
              warning: warning ? box(warning) : null,
              health: [...document.querySelectorAll('td[data-label="Health"]')].map(box)};
            const pre = parent.document.createElement("pre"); pre.id = "layout"; pre.textContent = JSON.stringify(layout);
            parent.document.body.appendChild(pre);
            </script>
            """
        let page = tmp.path + "/measured.html"
        try Data(html.replacingOccurrences(of: "</body>", with: measure + "</body>").utf8).write(to: URL(fileURLWithPath: page))

        for width in [1400, 400] {
            let frame = tmp.path + "/frame-\(width).html"
            try Data("<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"measured.html\" style=\"width:\(width)px;height:1000px;border:0\"></iframe></body></html>".utf8)
                .write(to: URL(fileURLWithPath: frame))
            let dom = try runProcess(browser, flags(profile: tmp.path + "/profile-\(width)")
                + ["--allow-file-access-from-files", "--window-size=\(width + 100),1000", "--dump-dom", "file://" + frame])
            XCTAssertEqual(dom.status, 0, dom.stderrText)
            let text = dom.stdoutText
            let json = try XCTUnwrap(text.range(of: "<pre id=\"layout\">").flatMap { start in
                text.range(of: "</pre>", range: start.upperBound..<text.endIndex).map { String(text[start.upperBound..<$0.lowerBound]) }
            }, "no layout in the DOM at \(width) px")
            let layout = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.replacingOccurrences(of: "&quot;", with: "\"").utf8)) as? [String: Any])
            let viewport = try XCTUnwrap(layout["viewport"] as? Double)
            XCTAssertEqual(viewport, Double(width), accuracy: 20, "the window is \(width) px wide")
            XCTAssertLessThanOrEqual(try XCTUnwrap(layout["page"] as? Double), viewport, "the page scrolls sideways at \(width) px")
            let warning = try XCTUnwrap(layout["warning"] as? [String: Double], "no warning section at \(width) px")
            XCTAssertGreaterThanOrEqual(warning["left"]!, 0)
            XCTAssertLessThanOrEqual(warning["right"]!, viewport, "the warnings are cut at \(width) px")
            XCTAssertGreaterThan(warning["height"]!, 0)
            let health = try XCTUnwrap(layout["health"] as? [[String: Double]])
            XCTAssertEqual(health.count, Incident.evidence().inputs.count)
            for cell in health {
                XCTAssertGreaterThanOrEqual(cell["left"]!, 0, "a Health cell is off-screen at \(width) px: \(cell)")
                XCTAssertLessThanOrEqual(cell["right"]!, viewport, "a Health cell is off-screen at \(width) px: \(cell)")
                XCTAssertGreaterThan(cell["width"]!, 0)
                XCTAssertGreaterThan(cell["height"]!, 0)
            }
            if let keep = ProcessInfo.processInfo.environment["RECOVER_KEEP_SCREENSHOT"] {
                // For a look by eye: the page in a frame of this width, 6000 px tall.
                let shot = tmp.path + "/shot-\(width).html"
                try Data("<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"plan/report.html\" style=\"width:\(width)px;height:6000px;border:0\"></iframe></body></html>".utf8)
                    .write(to: URL(fileURLWithPath: shot))
                _ = try runProcess(browser, flags(profile: tmp.path + "/profile-shot-\(width)")
                    + ["--screenshot=\(keep)-\(width).png", "--window-size=\(width + 100),6000", "file://" + shot])
            }
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
