import Foundation
import RecoveryModel

/// A `.sql` file of `COPY ... FROM stdin;` blocks, written through a large buffer.
final class CopyFile {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private(set) var bytes = 0

    init(_ url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        handle = try FileHandle(forWritingTo: url)
        buffer.reserveCapacity(1 << 22)
    }

    func text(_ s: String) { buffer.append(contentsOf: s.utf8) }

    func row(_ build: (inout [UInt8]) -> Void) throws {
        build(&buffer)
        buffer.append(10)
        if buffer.count >= 1 << 22 { try flush() }
    }

    func flush() throws {
        try handle.write(contentsOf: buffer)
        bytes += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try handle.close()
    }

    /// The COPY column list of `timeSlot(...)`'s rows: every column, in table order.
    static let timeSlotColumns = TimeSlotColumns.names.joined(separator: ", ")

    /// One `time_slots` row in COPY text format, timestamps in UTC.
    static func timeSlot(id: Int64, user: Int64, slot: Int64, _ v: Version, apps: [AppList], notes: [EncodedText],
                         into out: inout [UInt8]) {
        out.appendInt(id); out.append(9)
        out.appendInt(user); out.append(9)
        out.appendInt(v.project); out.append(9)
        if v.task < 0 { out.appendASCII("\\N") } else { out.appendInt(v.task) }
        out.append(9)
        TimeText.postgres(slot, into: &out); out.append(9)
        out.appendInt(Int64(v.duration)); out.appendASCII("\tclient\t")
        out.append(contentsOf: Version.statusNames[Int(v.status)].utf8); out.append(9)
        if v.activity < 0 { out.appendASCII("\\N") } else { out.appendInt(Int64(v.activity)) }
        out.append(9)
        out.appendInt(Int64(v.keystrokes)); out.append(9)
        out.appendInt(Int64(v.mouse)); out.append(9)
        out.append(contentsOf: apps[Int(v.apps)].copy); out.append(9)
        if v.screenshot {
            out.appendASCII("ss/"); out.appendInt(user); out.append(47)
            var stamp: [UInt8] = []
            TimeText.dateTime(slot, separator: 95, into: &stamp)
            out.append(contentsOf: stamp.filter { $0 >= 48 && $0 <= 57 }.prefix(12))
            out.appendASCII(".jpg")
        } else {
            out.appendASCII("\\N")
        }
        out.append(9)
        if v.note < 0 { out.appendASCII("\\N") } else { out.append(contentsOf: notes[Int(v.note)].copy) }
        out.append(9)
        TimeText.postgres(v.updatedAt, into: &out)
    }
}
