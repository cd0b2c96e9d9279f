import Foundation

/// Validates `--json` outputs and plan.json against the schemas in docs/schemas/ with a real
/// validator, `check-jsonschema` (installed by scripts/setup.sh from PyPI).
public enum JSONSchemas {
    public struct Failure: Error, CustomStringConvertible {
        public var schema: String
        public var report: String
        public var document: String

        public var description: String {
            "not valid against docs/schemas/\(schema).schema.json:\n\(report)\ndocument:\n\(document.prefix(4000))"
        }
    }

    /// `docs/schemas/NAME.schema.json`
    public static func schemaPath(_ name: String) -> String {
        Repository.root.appendingPathComponent("docs/schemas/\(name).schema.json").path
    }

    /// Throws `Failure` (with the validator's report) unless `json` is valid against the schema
    /// `name` (`apply`, `verify`, `error`, `plan`, ...).
    public static func validate(_ json: Data, against name: String) throws {
        let scratch = try TemporaryDirectory(prefix: "schema")
        let file = scratch.file("document.json")
        try json.write(to: file)
        try validate(file: file.path, against: name)
    }

    /// Like `validate(_:against:)`, for a file (plan.json).
    public static func validate(file: String, against name: String) throws {
        let output = try runProcess("check-jsonschema", ["--schemafile", schemaPath(name), file])
        guard output.status == 0 else {
            let document = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            throw Failure(schema: name, report: output.stdoutText + output.stderrText, document: document)
        }
    }
}
