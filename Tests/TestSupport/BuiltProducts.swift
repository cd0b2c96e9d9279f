import Foundation

/// The directory holding the built products (`recover-tool`), for end-to-end tests: the one
/// lookup every end-to-end test uses.
public enum BuiltProducts {
    public static var directory: URL {
        #if os(macOS)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        fatalError("cannot find the products directory")
        #else
        return Bundle.main.bundleURL
        #endif
    }

    /// The path of the built executable `name`.
    public static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// The built `recover-tool`, as the end-to-end tests run it.
    public static var recoverTool: String { path("recover-tool") }
}
