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
