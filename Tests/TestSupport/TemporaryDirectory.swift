import Foundation

/// A new empty directory under the system's temporary folder, removed with everything in it when
/// the value is released (or `remove()` is called).
public final class TemporaryDirectory {
    public let url: URL

    public init(prefix: String = "recover-test") throws {
        var template = Array(((NSTemporaryDirectory() as NSString).appendingPathComponent("\(prefix).XXXXXX")).utf8CString)
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
