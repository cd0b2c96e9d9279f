import SnapshotDiff

/// One input: a COPY text row. Checks the decoders never crash, and that what the encoder writes
/// decodes back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCopyText(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)

    var fields: [Range<Int>] = []
    CopyText.splitFields(bytes, into: &fields)
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
    _ = decoder.decode(bytes)
    return 0
}
