/// Why a record cannot be stored as given (CONTRACT §5.5).
public enum QuarantineReason: Hashable, Sendable, CustomStringConvertible {
    case invalidUTF8
    case malformedJSON(String)
    /// A key the contract defines appears twice in one object: which value is meant is a guess.
    case duplicateKey(String)
    case missingKey(String)
    case wrongType(key: String, expected: String)
    case invalidTime(key: String)
    case misalignedSlotStart
    case outOfRange(key: String)
    case nulInText(key: String)
    case lineTooLong(bytes: Int)
    case malformedRow(String)
    case unknownUser(Int64)
    case unknownProject(Int64)
    case unknownTask(Int64)
    case taskOfAnotherProject(task: Int64, project: Int64)
    case notAMember(user: Int64, project: Int64)

    /// A stable short code for counting and CSV columns: `malformed_json`, `unknown_user`, ...
    public var code: String {
        switch self {
        case .invalidUTF8: "invalid_utf8"
        case .malformedJSON: "malformed_json"
        case .duplicateKey: "duplicate_key"
        case .missingKey: "missing_key"
        case .wrongType: "wrong_type"
        case .invalidTime: "invalid_time"
        case .misalignedSlotStart: "misaligned_slot_start"
        case .outOfRange: "out_of_range"
        case .nulInText: "nul_in_text"
        case .lineTooLong: "line_too_long"
        case .malformedRow: "malformed_row"
        case .unknownUser: "unknown_user"
        case .unknownProject: "unknown_project"
        case .unknownTask: "unknown_task"
        case .taskOfAnotherProject: "task_of_another_project"
        case .notAMember: "not_a_member"
        }
    }

    public var description: String {
        switch self {
        case .invalidUTF8: "not valid UTF-8"
        case .malformedJSON(let detail): "malformed JSON: \(detail)"
        case .duplicateKey(let key): "key '\(key)' appears more than once"
        case .missingKey(let key): "missing key '\(key)'"
        case .wrongType(let key, let expected): "'\(key)' is not \(expected)"
        case .invalidTime(let key): "'\(key)' is not an RFC 3339 time with an offset"
        case .misalignedSlotStart: "'slot_start' is not on a 10-minute boundary"
        case .outOfRange(let key): "'\(key)' is out of range"
        case .nulInText(let key): "'\(key)' holds a NUL character"
        case .lineTooLong(let bytes): "line longer than \(bytes) bytes"
        case .malformedRow(let detail): "malformed row: \(detail)"
        case .unknownUser(let id): "unknown user \(id)"
        case .unknownProject(let id): "unknown project \(id)"
        case .unknownTask(let id): "unknown task \(id)"
        case .taskOfAnotherProject(let task, let project): "task \(task) is not in project \(project)"
        case .notAMember(let user, let project): "user \(user) is not a member of project \(project)"
        }
    }
}

/// A record that was not recovered: where it is, why, and the slot it names when that is known.
public struct QuarantineRecord: Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var reason: QuarantineReason
    public var key: SlotKey?

    public init(location: SourceLocation, reason: QuarantineReason, key: SlotKey? = nil) {
        self.location = location
        self.reason = reason
        self.key = key
    }

    /// `logs/app-1.log:17: 'slot_start' is not on a 10-minute boundary`
    public var description: String { "\(location): \(reason)" }
}
