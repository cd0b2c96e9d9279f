import Foundation
import RecoveryModel

/// `plan.json`'s encoding (the project's one encoder, `JSONOutput`) and its checked decoding.
public enum PlanJSON {
    public static func encode(_ document: PlanDocument) throws -> String {
        try JSONOutput.encode(document)
    }

    public static func decode(_ data: Data) throws -> PlanDocument {
        try decoder.decode(PlanDocument.self, from: data)
    }

    /// Reads what `JSONOutput` wrote. Not .convertFromSnakeCase: it reads `plan_id` as `planId`,
    /// which is not `planID`.
    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in SnakeCaseKey(path.last!.stringValue) }
        return decoder
    }

    /// Why `decode` failed, in the tool's words: the key path and what was wrong there, never
    /// Foundation's localized text.
    public static func reason(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the document" : "'" + keys.joined(separator: ".") + "'"
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)) has no '\(key.stringValue)'"
        case .valueNotFound(_, let context): return "\(path(context)) is null"
        case .typeMismatch(let type, let context): return "\(path(context)) is not a \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON in UTF-8" : "\(path(context)) is not valid"
        @unknown default: return "not a plan document"
        }
    }
}

/// A snake_case JSON key read back as the property name the encoder's `.convertToSnakeCase`
/// made it from: `plan_id` → `planID`, `format_version` → `formatVersion`.
private struct SnakeCaseKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ snake: String) {
        let words = snake.split(separator: "_", omittingEmptySubsequences: false)
        stringValue = words.enumerated().map { i, word in
            if i == 0 { return String(word) }
            return word == "id" ? "ID" : word.prefix(1).uppercased() + word.dropFirst()
        }.joined()
    }

    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { nil }
}
