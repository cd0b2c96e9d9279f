import RecoveryModel
import SnapshotDiff

private let window = Window(from: Timestamp(seconds: 1_532_476_800), to: Timestamp(seconds: 1_532_563_200))

/// One input: a COPY text row. Checks the decoders never crash, and that what the encoder writes
/// decodes back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCopyText(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)

    var fields: [Range<Int>] = []
    CopyText.splitFields(bytes, into: &fields)
    // The split in parts and the count agree with the whole split.
    precondition(CopyText.countFields(bytes, from: 0) == fields.count, "countFields")
    for limit in [1, 5] {
        var part: [Range<Int>] = []
        if let next = CopyText.splitFields(bytes, from: 0, into: &part, limit: limit) {
            precondition(limit + CopyText.countFields(bytes, from: next) == fields.count, "countFields from \(next)")
            _ = CopyText.splitFields(bytes, from: next, into: &part)
        }
        precondition(part == fields, "split in parts, limit \(limit)")
    }
    var scratch: [UInt8] = []
    for range in fields {
        let field = UnsafeRawBufferPointer(rebasing: bytes[range])
        _ = CopyText.isNull(field)
        _ = CopyText.integer(field, in: Int64.min...Int64.max)
        _ = CopyText.timestamp(field)
        if case .success(let text) = CopyText.text(field, scratch: &scratch) {
            // Encode and decode again: the same text.
            var encoded: [UInt8] = []
            CopyTextEncoder.appendField(text, to: &encoded)
            let again = encoded.withUnsafeBytes { CopyText.text($0, scratch: &scratch) }
            guard again == .success(text) else { fatalError("text round trip: \(text.debugDescription)") }
        }
        if case .success(let elements) = CopyText.textArray(field, scratch: &scratch) {
            let literal = CopyTextEncoder.arrayLiteral(elements)
            let again = Array(literal.utf8).withUnsafeBytes { CopyText.arrayLiteral($0) }
            guard again == .success(elements) else { fatalError("array round trip: \(literal.debugDescription)") }
        }
    }
    _ = CopyText.arrayLiteral(bytes)
    var decoder = try! SlotRowDecoder(columnNames: CopyTextEncoder.slotColumns)
    let whole = decoder.decode(bytes)
    // With a window, a row is decoded as without one, or told outside by its key alone.
    switch decoder.decode(bytes, window: window) {
    case .inside(let row): precondition(row == whole, "windowed decode")
    case .outside(let key): precondition(!window.contains(key.slotStart) && fields.count == CopyTextEncoder.slotColumns.count, "outside")
    }
    return 0
}
