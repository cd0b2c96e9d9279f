import RecoveryModel

/// The version of one slot that the fold ends with, and the events that made it.
///
/// The version is the slot as it would be recovered: it has no screenshot key (a recovered slot
/// carries none, CONTRACT §5.6), whatever the upload or snapshot row that made it had.
public struct FoldedSlot: Hashable, Sendable {
    public var slot: TimeSlot
    /// The upload or snapshot row that created this version, then the processed events applied to
    /// it, in fold order.
    public var provenance: [Provenance]

    public init(slot: TimeSlot, provenance: [Provenance]) {
        self.slot = slot
        self.provenance = provenance
    }

    /// The slot of the folded slot at `folded`, in place.
    @inlinable
    public static func slotPointer(_ folded: UnsafePointer<FoldedSlot>) -> UnsafePointer<TimeSlot> {
        UnsafeRawPointer(folded).advanced(by: slotOffset).assumingMemoryBound(to: TimeSlot.self)
    }

    @usableFromInline
    static let slotOffset = MemoryLayout<FoldedSlot>.offset(of: \.slot)!
}

/// A slot whose last event is a deletion: not recovered.
public struct DeletedSlot: Hashable, Sendable {
    public var key: SlotKey
    /// The deletion that ended it.
    public var location: SourceLocation
}

/// An event that changed nothing: a repeated upload, or a processed event with no version before it.
public struct IgnoredEvent: Hashable, Sendable {
    public var key: SlotKey
    public var location: SourceLocation
    /// For a duplicate upload, the first upload with the same `request_id`.
    public var firstSeen: SourceLocation?
}

/// Everything the fold decided, sorted by slot key so that it can be compared and hashed.
public struct FoldResult: Hashable, Sendable {
    /// Slots with a live version at the end of the fold, sorted by key.
    public var slots: [FoldedSlot] = []
    /// Slots whose last event is a deletion, sorted by key.
    public var deleted: [DeletedSlot] = []
    /// Uploads that repeat a `request_id` already seen for their slot.
    public var duplicates: [IgnoredEvent] = []
    /// Processed events with no version before them.
    public var orphans: [IgnoredEvent] = []
    /// Events of slots outside the window, which the fold left out.
    public var outsideWindow = 0

    public init() {}

    /// Appends the findings other than the slots of `part`, a fold of users above this one's
    /// (a range of users, a group of spilled ranges): the lists stay sorted by key.
    public mutating func appendFindings(of part: FoldResult) {
        deleted += part.deleted
        duplicates += part.duplicates
        orphans += part.orphans
        outsideWindow += part.outsideWindow
    }
}
