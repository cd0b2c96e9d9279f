import LogReplay
import RecoveryModel

/// Any bytes as one log line: the parser must return a value, never trap, and every event it
/// returns must hold values the contract allows.
private let window = Window(from: Timestamp(seconds: 1_532_476_800), to: Timestamp(seconds: 1_532_563_200))
nonisolated(unsafe) private let parser = EventLineParser(file: "fuzz.log", window: window)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventLine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    switch parser.parse(bytes, line: 1) {
    case .event(let event):
        precondition(window.contains(event.key.slotStart) && event.key.slotStart.isSlotAligned)
        precondition(event.key.userID > 0 && !event.host.utf8.contains(0))
        switch event.payload {
        case .upload(let u):
            precondition((1...10).contains(u.durationMinutes) && u.keystrokes >= 0 && u.mouseEvents >= 0)
            precondition(u.projectID > 0 && (u.taskID ?? 1) > 0)
            precondition(!u.requestID.utf8.contains(0) && !(u.note?.utf8.contains(0) ?? false))
            precondition(u.activeApps.allSatisfy { !$0.utf8.contains(0) })
        case .processed(let status, let level):
            precondition(status != .pending && (0...10).contains(level))
        case .deleted:
            break
        case .snapshotRow:
            preconditionFailure("a log line gave a snapshot row")
        }
    case .outOfWindow(_, _, _), .otherEvent(_, _, _), .quarantined(_, _):
        break
    }
    return 0
}
