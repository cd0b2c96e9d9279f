import Foundation

/// A new empty directory under the system's temporary folder, removed with everything in it when
/// the value is released (or `remove()` is called).
///
/// XCTest keeps every test's case object until the run ends, and does not release it then: a
/// directory (or a `DemoRun`, `BadJobRun`, `TestDatabase`) held by a test class's property is
/// released by setting the property to nil in `tearDown`, or never. scripts/test.sh fails a run
/// that leaves anything in the tests' temporary folder (`root`).
public final class TemporaryDirectory {
    public let url: URL

    /// Where the tests' temporary files go: `RECOVER_TEST_TMPDIR` (scripts/test.sh sets a folder
    /// of the run's own, which SwiftPM's and the compiler's files do not share), else the system's.
    public static var root: URL {
        let set = ProcessInfo.processInfo.environment["RECOVER_TEST_TMPDIR"] ?? ""
        return set.isEmpty ? FileManager.default.temporaryDirectory : URL(fileURLWithPath: set, isDirectory: true)
    }

    public init(prefix: String = "recover-test") throws {
        var template = Array(Self.root.appendingPathComponent("\(prefix).XXXXXX").path.utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: prefix])
        }
        url = URL(fileURLWithPath: String(cString: made), isDirectory: true)
    }

    deinit { remove() }

    public var path: String { url.path }

    /// `DIR/NAME` (not created).
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
