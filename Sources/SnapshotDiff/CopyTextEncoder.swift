import RecoveryModel

/// Writes values in PostgreSQL's COPY text format, as `COPY ... TO` does: the inverse of
/// `CopyText`, for loading rows (`COPY ... FROM STDIN`), tests and benchmarks.
public enum CopyTextEncoder {
    /// Appends one field: `\N` for nil, else the text with `\\ \b \f \n \r \t \v` escaped
    /// (`CopyTextWriter.appendField`, which the plan's rows file uses too).
    public static func appendField(_ text: String?, to out: inout [UInt8]) {
        CopyTextWriter.appendField(text, to: &out)
    }

    /// A `text[]` literal as `array_out` writes it: an element is quoted when it is empty, is
    /// `NULL` in any case, or holds `{ } , " \` or white space; `"` and `\` are escaped.
    public static func arrayLiteral(_ elements: [String?]) -> String {
        var out = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { out += "," }
            guard let element else {
                out += "NULL"
                continue
            }
            let needsQuotes = element.isEmpty || element.lowercased() == "null" || element.utf8.contains {
                $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") || $0 == UInt8(ascii: ",")
                    || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 == 0x20
                    || ($0 >= 0x09 && $0 <= 0x0D)
            }
            guard needsQuotes else {
                out += element
                continue
            }
            out += "\""
            for ch in element.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }

    /// A `timestamptz` as PostgreSQL writes it with `DateStyle` ISO in a zone `offsetMinutes`
    /// east of UTC: `2018-07-25 20:20:00.5+05:30`.
    public static func timestamptz(_ time: Timestamp, offsetMinutes: Int = 0) -> String {
        let local = Timestamp(microseconds: time.microseconds + Int64(offsetMinutes) * 60_000_000)
        var text = local.rfc3339          // 2018-07-25T20:20:00.5Z
        text.removeLast()
        text = text.replacingFirst("T", with: " ")
        let sign = offsetMinutes < 0 ? "-" : "+"
        let hours = abs(offsetMinutes) / 60, minutes = abs(offsetMinutes) % 60
        text += sign + (hours < 10 ? "0" : "") + String(hours)
        if minutes != 0 { text += ":" + (minutes < 10 ? "0" : "") + String(minutes) }
        return text
    }

    /// The columns `row(_:)` writes, in order (a `time_slots` COPY column list).
    public static let slotColumns = TimeSlotColumns.names

    /// One `time_slots` row in the order of `slotColumns`, with its newline.
    public static func appendRow(
        _ slot: TimeSlot, id: Int64, source: String = "client", offsetMinutes: Int = 0, to out: inout [UInt8]
    ) {
        func field(_ text: String?) {
            appendField(text, to: &out)
            out.append(0x09)
        }
        field(String(id))
        field(String(slot.key.userID))
        field(String(slot.projectID))
        field(slot.taskID.map { String($0) })
        field(timestamptz(slot.key.slotStart, offsetMinutes: offsetMinutes))
        field(String(slot.durationMinutes))
        field(source)
        field(slot.status.rawValue)
        field(slot.activityLevel.map { String($0) })
        field(String(slot.keystrokes))
        field(String(slot.mouseEvents))
        field(arrayLiteral(slot.activeApps))
        field(slot.screenshotKey)
        field(slot.note)
        appendField(timestamptz(slot.updatedAt ?? slot.key.slotStart, offsetMinutes: offsetMinutes), to: &out)
        out.append(0x0A)
    }
}

extension String {
    fileprivate func replacingFirst(_ target: Character, with replacement: String) -> String {
        guard let found = firstIndex(of: target) else { return self }
        return String(self[..<found]) + replacement + String(self[index(after: found)...])
    }
}
