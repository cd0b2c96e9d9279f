import Foundation

/// Where the repository and its fixtures are, found from this file's own path, so tests work
/// from any working directory.
public enum Repository {
    /// The repository root: the folder holding `Package.swift`.
    public static var root: URL {
        URL(fileURLWithPath: #filePath)            // Tests/TestSupport/Repository.swift
            .deletingLastPathComponent()           // Tests/TestSupport
            .deletingLastPathComponent()           // Tests
            .deletingLastPathComponent()
    }

    /// `fixtures/NAME`
    public static func fixture(_ name: String) -> URL {
        root.appendingPathComponent("fixtures").appendingPathComponent(name)
    }

    /// The text of `fixtures/NAME`.
    public static func fixtureText(_ name: String) throws -> String {
        try String(contentsOf: fixture(name), encoding: .utf8)
    }
}
