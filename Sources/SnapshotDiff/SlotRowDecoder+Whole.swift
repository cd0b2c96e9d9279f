import RecoveryModel

extension SlotRowDecoder {
    /// The whole row's columns, in the order `DatabaseSnapshot.wholeCopyStatement` selects them:
    /// `id` and `source` before the columns recovery reads.
    public static let wholeColumns = ["id", "source"] + columns

    /// What one whole row says: the row, or why it cannot be taken.
    public enum WholeRow: Hashable, Sendable {
        case row(SlotRow)
        case rejected(QuarantineReason, key: SlotKey?)
    }

    /// Decodes one row (without its newline) with its `id` and `source`; the decoder must have
    /// been made with `whole: true`.
    public mutating func decodeWhole(_ bytes: UnsafeRawBufferPointer) -> WholeRow {
        switch decode(bytes) {
        case .rejected(let reason, let key): return .rejected(reason, key: key)
        case .slot(let slot):
            guard let (idPosition, sourcePosition) = wholePositions else {
                return .rejected(.malformedRow("the decoder reads no id and source"), key: slot.key)
            }
            let idField = UnsafeRawBufferPointer(rebasing: bytes[fieldRange(idPosition)])
            guard !CopyText.isNull(idField), let id = CopyText.integer(idField, in: 1...Int64.max) else {
                return .rejected(.outOfRange(key: "id"), key: slot.key)
            }
            let sourceField = UnsafeRawBufferPointer(rebasing: bytes[fieldRange(sourcePosition)])
            let source: String
            if sourceField.elementsEqual("client".utf8) {
                source = "client"
            } else if sourceField.elementsEqual("recovered".utf8) {
                source = "recovered"
            } else {
                return .rejected(.wrongType(key: "source", expected: "'client' or 'recovered'"), key: slot.key)
            }
            return .row(SlotRow(id: id, source: source, slot: slot))
        }
    }
}
