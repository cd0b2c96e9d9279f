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

    /// `fixtures/schema.sql`, to run on a connection of the tool: its sessions search
    /// `pg_catalog` first (`SessionSettings`), so the tables are created in `public` explicitly.
    public static func serviceSchemaSQL() throws -> String {
        "SET search_path = public; " + (try fixtureText("schema.sql"))
    }
}
