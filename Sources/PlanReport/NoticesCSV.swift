import Foundation
import PlanFormat
import RecoveryModel
import SlotFold

/// `notices.csv`: one notice per affected user (a slot recovered, lost time left to their offline
/// entry, or a slot that could not be recovered), for support to send unchanged: the user's email,
/// the figures, and the notice text from the plan's `NoticeTemplate`. Users by id.
enum NoticesCSV {
    static let header = [
        "user_id", "email", "recovered_slots", "recovered_minutes", "offline_covered_minutes", "not_recovered_slots", "notice",
    ]

    static let renderer = ReportRenderer(fileName: "notices.csv", evidence: render)

    static func render(_ evidence: PlanEvidence) -> String {
        let notices = UserNotice.all(evidence)
        var out = TextBuffer(capacity: 256 + notices.count * 320)
        out.append(CSVText.record(header))
        var zones: [String: String] = [:]  // the window's text once per zone, not per user
        for notice in notices {
            let zone = notice.timeZone ?? "UTC"
            let windowLocal = zones[zone] ?? UserNotice.windowLocal(evidence.window, zone: zone)
            zones[zone] = windowLocal
            // Numbers this tool writes need no quotes (`CSVText.plain`).
            out.append(notice.userID)
            out.append(byte: 0x2C)
            CSVText.appendText(notice.email ?? "", to: &out.bytes)
            out.append(byte: 0x2C)
            out.append(notice.recoveredSlots)
            out.append(byte: 0x2C)
            out.append(notice.recoveredMinutes)
            out.append(byte: 0x2C)
            out.append(notice.offlineCoveredMinutes)
            out.append(byte: 0x2C)
            out.append(notice.notRecoveredSlots)
            out.append(byte: 0x2C)
            CSVText.appendText(evidence.noticeTemplate.render { notice.value($0, evidence, windowLocal: windowLocal) }, to: &out.bytes)
            out.append("\r\n")
        }
        return out.text
    }
}

/// What one user is told: the figures of their notice.
struct UserNotice {
    var userID: Int64
    var email: String?
    var timeZone: String?
    var recoveredSlots = 0
    var recoveredMinutes = 0
    /// Lost minutes not recovered because the user's own offline entry already covers them.
    var offlineCoveredMinutes = 0
    /// Slots of the user's lost time that could not be recovered (quarantined records).
    var notRecoveredSlots = 0

    /// Every user with something to be told, by id.
    static func all(_ evidence: PlanEvidence) -> [UserNotice] {
        var notices: [Int64: UserNotice] = [:]
        func bump(_ user: Int64, _ change: (inout UserNotice) -> Void) {
            let contact = evidence.userContacts[user]
            change(&notices[user, default: UserNotice(userID: user, email: contact?.email, timeZone: contact?.timeZone)])
        }
        let r = evidence.resolution
        evidence.forEachUsersRecovered { user, slots, minutes in bump(user) { $0.recoveredSlots += slots; $0.recoveredMinutes += minutes } }
        for d in r.offlineOverlap { bump(d.slot.slot.key.userID) { $0.offlineCoveredMinutes += Int(d.slot.slot.durationMinutes) } }
        var unrecovered = Set(r.quarantined.map(\.slot.slot.key))
        for q in evidence.readQuarantine { if let key = q.key, evidence.window.contains(key.slotStart) { unrecovered.insert(key) } }
        if !unrecovered.isEmpty {
            unrecovered.subtract(recoveredKeys(among: unrecovered, r.recovered))
            // Spilled (`plan --memory-limit`): a slot the resolver quarantined is not recovered,
            // so the recovered keys among these are the readers' quarantine's, found as spilled.
            unrecovered.subtract(evidence.spilledRecovered?.readQuarantineRecovered ?? [])
        }
        for key in unrecovered { bump(key.userID) { $0.notRecoveredSlots += 1 } }
        return notices.values.sorted { $0.userID < $1.userID }
    }

    /// The keys of `keys` that are recovered slots'. The resolver sorts the slots by key: a
    /// binary search for each key then, instead of a look at each of a million slots.
    private static func recoveredKeys(among keys: Set<SlotKey>, _ recovered: [FoldedSlot]) -> [SlotKey] {
        recovered.withUnsafeBufferPointer { slots -> [SlotKey] in
            guard let base = slots.baseAddress else { return [] }
            func key(_ i: Int) -> SlotKey { FoldedSlot.slotPointer(base + i).pointee.key }
            guard (1..<max(1, slots.count)).allSatisfy({ key($0 - 1) <= key($0) }) else {
                return slots.indices.map(key)
            }
            return Array(keys.filter { wanted in
                var low = 0, high = slots.count
                while low < high {
                    let middle = (low + high) / 2
                    if key(middle) < wanted { low = middle + 1 } else { high = middle }
                }
                return low < slots.count && key(low) == wanted
            })
        }
    }

    /// `{window_local}`: the window in `zone` (`2018-07-25 16:50:00 +02:00 and ... (Europe/Berlin)`),
    /// or in UTC when the zone is UTC or unknown.
    static func windowLocal(_ window: Window, zone: String) -> String {
        let local = DisplayTime(zoneName: zone).window(window)
        return zone == "UTC" || local.hasPrefix("(") ? windowText(window) : local.replacingOccurrences(of: " to ", with: " and ")
    }

    /// `{window}`: the window in UTC.
    static func windowText(_ window: Window) -> String {
        "\(window.from) and \(window.to) (UTC)"
    }

    /// The value of the placeholder `name` (one of `NoticeTemplate.placeholders`) for this user;
    /// `windowLocal` is `windowLocal(_:zone:)` for the user's zone. Made only when the template
    /// names it.
    func value(_ name: String, _ evidence: PlanEvidence, windowLocal: String) -> String {
        switch name {
        case "user_id": String(userID)
        // From the live users table: escaped whole, so that no line of it reaches the text as a line.
        case "email": VisibleText.escaped(email ?? "")
        case "recovered_slots": String(recoveredSlots)
        case "recovered_minutes": String(recoveredMinutes)
        case "recovered_time": minutesText(recoveredMinutes)
        case "offline_covered_minutes": String(offlineCoveredMinutes)
        case "offline_covered_time": minutesText(offlineCoveredMinutes)
        case "not_recovered_slots": String(notRecoveredSlots)
        case "window": Self.windowText(evidence.window)
        case "window_local": windowLocal
        case "recovered_sentence":
            recoveredMinutes == 0 ? "" :
                "We recovered \(minutesText(recoveredMinutes)) of your work time lost between \(windowLocal). "
                + "Recovered time has no screenshots (they could not be recovered), but its activity is there and it counts "
                + "as your work hours in reports. "
        case "offline_sentence":
            offlineCoveredMinutes == 0 ? "" :
                "Your offline time stays as is: \(minutesText(offlineCoveredMinutes)) of the lost time is covered by offline time "
                + "you added, so it was not recovered again and nothing counts twice. "
        case "not_recovered_sentence":
            notRecoveredSlots == 0 ? "" :
                "\(notRecoveredSlots) of your lost 10-minute slots could not be recovered: please add them as offline time "
                + "(or ask your manager to). "
        default: preconditionFailure("no placeholder '\(name)'")
        }
    }
}

/// The text of each user's notice in `notices.csv`: plain text with `{name}` placeholders
/// (`NoticeTemplate.placeholders`), given to `plan --notice-template FILE`; by default
/// `standard`, the sentences the status page told users after the 2018 recovery.
public struct NoticeTemplate: Sendable, Hashable {
    public static let placeholders = [
        "user_id", "email", "recovered_slots", "recovered_minutes", "recovered_time", "offline_covered_minutes",
        "offline_covered_time", "not_recovered_slots", "window", "window_local",
        "recovered_sentence", "offline_sentence", "not_recovered_sentence",
    ]

    public static let standard = NoticeTemplate(checked: "{recovered_sentence}{offline_sentence}{not_recovered_sentence}")

    public let text: String
    /// `text` cut at its placeholders, once: what `render` puts together for each user.
    private let parts: [Part]

    private enum Part: Hashable, Sendable {
        case text(String), placeholder(String)
    }

    /// Why a template was refused: a placeholder that is not one of `placeholders`.
    public struct Invalid: Error, CustomStringConvertible {
        public var placeholder: String
        public var description: String {
            "unknown placeholder '{\(placeholder)}'; the placeholders are "
                + NoticeTemplate.placeholders.map { "{\($0)}" }.joined(separator: ", ")
        }
    }

    /// The template, or `Invalid` naming its first unknown placeholder, or the first braced text
    /// that is a placeholder but for its case, hyphens or spaces (`{Email}`, `{ email }`): a typo
    /// that would reach the users as written. Windows line ends (CRLF) are read as line feeds.
    public init(_ text: String) throws {
        let text = text.replacingOccurrences(of: "\r\n", with: "\n")
        for name in Self.names(in: text) where !Self.placeholders.contains(name) { throw Invalid(placeholder: name) }
        for braced in Self.bracedTexts(in: text) where !Self.placeholders.contains(braced) {
            let near = braced.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "-", with: "_")
            if Self.placeholders.contains(near) { throw Invalid(placeholder: braced) }
        }
        self.init(checked: text)
    }

    /// The text between each `{` and the next `}` (no brace or line end between them).
    static func bracedTexts(in text: String) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(where: { $0 == "}" || $0 == "{" || $0 == "\n" }) else { break }
            if after[close] == "}" { found.append(String(after[..<close])) }
            rest = after
        }
        return found
    }

    private init(checked text: String) {
        self.text = text
        parts = Self.parts(of: text)
    }

    /// `{name}` runs of lowercase letters and underscores; other braces are kept as written.
    static func names(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            let name = after[..<close]
            if !name.isEmpty, name.allSatisfy({ $0 == "_" || ("a"..."z").contains($0) }) { names.append(String(name)) }
            rest = after
        }
        return names
    }

    /// The text with each placeholder replaced by its value (`value` of its name), in one pass (a
    /// value is never read as a template); trailing spaces trimmed.
    func render(_ value: (String) -> String) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let text): out += text
            case .placeholder(let name): out += value(name)
            }
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }

    /// `text` as plain text and placeholders: a `{` that does not open a placeholder's name and
    /// its `}` is text.
    private static func parts(of text: String) -> [Part] {
        var parts: [Part] = []
        var plain = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            plain += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), placeholders.contains(String(after[..<close])) {
                parts += [.text(plain), .placeholder(String(after[..<close]))]
                plain = ""
                rest = after[after.index(after: close)...]
            } else {
                plain += "{"
                rest = after
            }
        }
        plain += rest
        return parts + [.text(plain)]
    }
}
