import GeneratorRandom
/// One version of a slot, as an upload sets it and processing completes it.
struct Version: Equatable {
    var project: Int64
    /// -1: null.
    var task: Int64
    var duration: Int16
    var keystrokes: Int32
    var mouse: Int32
    var apps: Int32
    /// -1: null.
    var note: Int32
    var screenshot: Bool
    /// 0 pending, 1 active, 2 idle.
    var status: UInt8 = 0
    /// -1: null.
    var activity: Int8 = -1
    var updatedAt: Int64 = 0

    static let statusNames = ["pending", "active", "idle"]
}

/// A slot event as the generator knows it; `Kind` raw values are the fold's tie order.
struct Event {
    enum Kind: UInt8 { case snapshot = 0, upload, processed, deleted }
    var time: Int64
    var kind: Kind
    var host: Int
    var request: UInt64 = 0
    var fields: Version
    /// Random bits that choose how the line is written (key order, time offsets, escapes).
    var style: UInt64
}

/// A line that cannot be stored as given (CONTRACT §5.5), written beside a real event.
enum Malformation: Int, CaseIterable {
    case cutJSON, garbage, badEscape, invalidUTF8, truncatedUTF8, userIDString, keystrokesFloat, appsString,
         missingRequestID, missingStatus, tsWithoutOffset, slotStartMinutes, slotStartSeconds, durationTooLong,
         keystrokesNegative, mouseTooLarge, activityTooHigh, nulInNote, nulInApp

    /// The reason code of `QuarantineReason.code`.
    var reason: String {
        switch self {
        case .cutJSON, .garbage, .badEscape: "malformed_json"
        case .invalidUTF8, .truncatedUTF8: "invalid_utf8"
        case .userIDString, .keystrokesFloat, .appsString: "wrong_type"
        case .missingRequestID, .missingStatus: "missing_key"
        case .tsWithoutOffset: "invalid_time"
        case .slotStartMinutes, .slotStartSeconds: "misaligned_slot_start"
        case .durationTooLong, .keystrokesNegative, .mouseTooLarge, .activityTooHigh: "out_of_range"
        case .nulInNote, .nulInApp: "nul_in_text"
        }
    }

    var onProcessed: Bool { self == .missingStatus || self == .activityTooHigh }
}

/// Writes JSON lines of CONTRACT §3 into byte buffers: keys in varied order, unknown keys, times
/// with offsets and fractions, texts raw or escaped.
struct LineEncoder {
    let hostJSON: [[UInt8]]
    let apps: [AppList]
    let notes: [EncodedText]

    private enum Field: CaseIterable {
        case ts, host, event, request, user, project, task, slotStart, duration, keystrokes, mouse, apps, screenshot, note
        case status, activity
    }

    private static let uploadFields: [Field] = [.ts, .host, .event, .request, .user, .project, .task, .slotStart,
                                                .duration, .keystrokes, .mouse, .apps, .screenshot, .note]
    private static let processedFields: [Field] = [.ts, .host, .event, .user, .slotStart, .status, .activity]
    private static let deletedFields: [Field] = [.ts, .host, .event, .user, .slotStart]

    func slotEvent(_ e: Event, user: Int64, slot: Int64, malformation: Malformation? = nil, into out: inout [UInt8]) {
        var fields: [Field]
        switch e.kind {
        case .upload: fields = Self.uploadFields
        case .processed: fields = Self.processedFields
        case .deleted, .snapshot: fields = Self.deletedFields
        }
        if malformation == .missingRequestID { fields.removeAll { $0 == .request } }
        if malformation == .missingStatus { fields.removeAll { $0 == .status } }
        if e.kind == .upload, e.fields.duration == 10, e.style >> 14 & 7 == 0, malformation == nil {
            fields.removeAll { $0 == .duration }   // optional: 10 by default
        }
        if e.style >> 8 & 3 == 0 {
            var local = Xoshiro256(seed: e.style)
            local.shuffle(&fields)
        }
        let ascii = e.style >> 13 & 1 == 1
        let extras = Int(e.style >> 10 & 7)
        let start = out.count
        out.append(123)
        var first = true
        for field in fields {
            if !first { out.append(44) }
            first = false
            write(field, e, user: user, slot: slot, ascii: ascii, malformation: malformation, into: &out)
            if field == .event, extras != 0 { unknownKeys(extras, into: &out) }
        }
        out.append(125)
        if malformation == .cutJSON {
            var cut = start + 20 + Int(e.style >> 20) % max(1, out.count - start - 22)
            while out[cut] & 0xC0 == 0x80 { cut -= 1 }   // keep the prefix valid UTF-8
            out.removeSubrange(cut...)
        }
    }

    private func write(_ field: Field, _ e: Event, user: Int64, slot: Int64, ascii: Bool, malformation: Malformation?,
                       into out: inout [UInt8]) {
        let v = e.fields
        switch field {
        case .ts:
            out.appendASCII("\"ts\":\"")
            if malformation == .tsWithoutOffset {
                TimeText.dateTime(e.time, separator: UInt8(ascii: "T"), into: &out)
            } else {
                let style = Int(e.style & 15)
                let offsets: [Int?] = [nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, 120, 120, -420, 330, 0]
                let fraction: TimeText.Fraction = style == 9 ? .padded6 : style == 10 ? .padded9 : .minimal
                TimeText.rfc3339(e.time, offsetMinutes: offsets[style], fraction: fraction, into: &out)
            }
            out.append(34)
        case .host:
            out.appendASCII("\"host\":"); out.append(contentsOf: hostJSON[e.host])
        case .event:
            switch e.kind {
            case .upload: out.appendASCII("\"event\":\"slot.upload\"")
            case .processed: out.appendASCII("\"event\":\"slot.processed\"")
            case .deleted, .snapshot: out.appendASCII("\"event\":\"slot.deleted\"")
            }
        case .request:
            out.appendASCII("\"request_id\":\""); Self.requestID(e.request, into: &out); out.append(34)
        case .user:
            out.appendASCII("\"user_id\":")
            if malformation == .userIDString { out.append(34); out.appendInt(user); out.append(34) } else { out.appendInt(user) }
        case .project:
            out.appendASCII("\"project_id\":"); out.appendInt(v.project)
        case .task:
            out.appendASCII("\"task_id\":")
            if v.task < 0 { out.appendASCII("null") } else { out.appendInt(v.task) }
        case .slotStart:
            out.appendASCII("\"slot_start\":\"")
            switch malformation {
            case .slotStartMinutes:
                TimeText.rfc3339(slot + 3 * TimeText.minute, offsetMinutes: nil, fraction: .minimal, into: &out)
            case .slotStartSeconds:
                TimeText.rfc3339(slot + 30 * TimeText.second, offsetMinutes: nil, fraction: .minimal, into: &out)
            default:
                let style = Int(e.style >> 4 & 15)
                let offsets: [Int?] = [nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, 120, 345, -420, nil]
                TimeText.rfc3339(slot, offsetMinutes: offsets[style], fraction: style == 15 ? .padded6 : .minimal, into: &out)
            }
            out.append(34)
        case .duration:
            out.appendASCII("\"duration_min\":")
            out.appendInt(malformation == .durationTooLong ? 11 : Int64(v.duration))
        case .keystrokes:
            out.appendASCII("\"keystrokes\":")
            switch malformation {
            case .keystrokesFloat: out.appendInt(Int64(v.keystrokes)); out.appendASCII(".5")
            case .keystrokesNegative: out.appendInt(-Int64(v.keystrokes) - 1)
            default: out.appendInt(Int64(v.keystrokes))
            }
        case .mouse:
            out.appendASCII("\"mouse_events\":")
            out.appendInt(malformation == .mouseTooLarge ? 2_147_483_648 : Int64(v.mouse))
        case .apps:
            out.appendASCII("\"active_apps\":")
            let list = apps[Int(v.apps)]
            switch malformation {
            case .appsString: out.append(contentsOf: EncodedText.jsonString(list.names[0], ascii: false))
            case .nulInApp: out.appendASCII("[\"Xc\\u0000ode\"]")
            default: out.append(contentsOf: ascii ? list.jsonASCII : list.json)
            }
        case .screenshot:
            out.appendASCII("\"screenshot_key\":")
            if v.screenshot {
                out.appendASCII("\"ss/"); out.appendInt(user); out.append(47)
                var stamp: [UInt8] = []
                TimeText.dateTime(slot, separator: 95, into: &stamp)
                out.append(contentsOf: stamp.filter { $0 >= 48 && $0 <= 57 }.prefix(12))
                out.appendASCII(".jpg\"")
            } else {
                out.appendASCII("null")
            }
        case .note:
            out.appendASCII("\"note\":")
            switch malformation {
            case .badEscape: out.appendASCII("\"bad \\q escape\"")
            case .invalidUTF8: out.appendASCII("\"latin-1 caf"); out.append(0xE9); out.appendASCII(" and "); out.append(0xFF); out.append(34)
            case .truncatedUTF8: out.appendASCII("\"cut "); out.append(0xC3); out.appendASCII("\"")
            case .nulInNote: out.appendASCII("\"before\\u0000after\"")
            default:
                if v.note < 0 { out.appendASCII("null") } else {
                    out.append(contentsOf: ascii ? notes[Int(v.note)].jsonASCII : notes[Int(v.note)].json)
                }
            }
        case .status:
            out.appendASCII("\"status\":\""); out.appendASCII(v.status == 2 ? "idle" : "active"); out.append(34)
        case .activity:
            out.appendASCII("\"activity_level\":")
            out.appendInt(malformation == .activityTooHigh ? 11 : Int64(v.activity))
        }
    }

    /// Keys the contract does not name: readers must skip them, nested values included.
    private func unknownKeys(_ variant: Int, into out: inout [UInt8]) {
        switch variant {
        case 1: out.appendASCII(",\"client_version\":\"4.2.1\"")
        case 2: out.appendASCII(",\"trace\":{\"id\":\"a\\\"b}\",\"spans\":[1,{\"x\":[2,3]},null,true]}")
        case 3: out.appendASCII(",\"retry\":false,\"latency_ms\":12.75")
        default: break
        }
    }

    /// `9f3c1a07-1042`: eight hex digits of a hash, then the counter.
    static func requestID(_ id: UInt64, into out: inout [UInt8]) {
        var z = id &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 29)) &* 0xBF58_476D_1CE4_E5B9
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for shift in stride(from: 60, through: 32, by: -4) { out.append(hex[Int(z >> UInt64(shift) & 15)]) }
        out.append(45)
        out.appendInt(Int64(id))
    }

    func other(_ kind: Int, host: Int, ts: Int64, user: Int64, into out: inout [UInt8]) {
        out.appendASCII("{\"ts\":\"")
        TimeText.rfc3339(ts, offsetMinutes: nil, fraction: .minimal, into: &out)
        out.appendASCII("\",\"host\":"); out.append(contentsOf: hostJSON[host])
        switch kind {
        case 0: out.appendASCII(",\"event\":\"host.heartbeat\",\"load\":0.42,\"open_connections\":17}")
        case 1: out.appendASCII(",\"event\":\"user.login\",\"user_id\":"); out.appendInt(user); out.appendASCII(",\"client\":\"desktop/4.2.1\"}")
        case 2: out.appendASCII(",\"event\":\"report.viewed\",\"user_id\":"); out.appendInt(user); out.appendASCII(",\"report\":\"weekly\"}")
        default: out.appendASCII(",\"event\":\"host.started\",\"version\":\"2018.07.2\"}")
        }
    }

    static let garbage: StaticString = "panic: runtime error: index out of range [recovered]"
}
