import Foundation

/// The one JSON encoder of the project: plan.json and every `--json` output go through it.
/// Keys are snake_case (`planID` becomes `plan_id`; dictionary keys are data and stay as they
/// are), sorted, pretty-printed, with `/` unescaped. docs/schemas/ holds a JSON Schema per shape.
public enum JSONOutput {
    /// The version of the `--json` shapes (`format_version` in every output). It changes when a
    /// field changes meaning or goes away; adding a field does not change it.
    public static let formatVersion = 1

    /// `value` as JSON text ending in a newline.
    public static func encode<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // JSONEncoder leaves DEL, C1 and bidirectional characters raw: written as \u escapes, the
        // values read back the same, and the text is safe to show in a terminal.
        return VisibleText.escaped(String(decoding: try encoder.encode(value), as: UTF8.self), keepingLayout: true) + "\n"
    }

    /// A `--json` output: `body`'s own fields with `format_version` beside them, and `error` when
    /// the command failed after it had its result (a run that does not verify).
    public static func output<Body: Encodable>(_ body: Body, error: JSONError? = nil) throws -> String {
        try encode(Envelope(body: body, error: error))
    }

    /// A `--json` output on failure: `{"format_version": N, "error": {"code", "message", "hint"}}`.
    public static func failure(_ error: JSONError) -> String {
        // Strings and an optional string always encode.
        (try? output(Empty(), error: error)) ?? "{}\n"
    }

    private struct Empty: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    private struct Envelope<Body: Encodable>: Encodable {
        var body: Body
        var error: JSONError?
        enum Keys: String, CodingKey { case formatVersion, error }

        func encode(to encoder: any Encoder) throws {
            try body.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(JSONOutput.formatVersion, forKey: .formatVersion)
            try c.encodeIfPresent(error, forKey: .error)
        }
    }
}

/// The error object of a `--json` output: a stable code, the error line, and what to do (or null).
public struct JSONError: Encodable, Sendable {
    public var code: String
    public var message: String
    public var hint: String?

    public init(code: String, message: String, hint: String?) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    enum CodingKeys: String, CodingKey { case code, message, hint }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
        try c.encode(hint, forKey: .hint)  // null when there is none: one shape
    }
}

/// An optional that encodes as `null` instead of leaving its key out.
public struct Nullable<Wrapped: Encodable>: Encodable {
    public var value: Wrapped?

    public init(_ value: Wrapped?) { self.value = value }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value { try container.encode(value) } else { try container.encodeNil() }
    }
}

extension Nullable: Sendable where Wrapped: Sendable {}
