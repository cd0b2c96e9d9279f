extension Array {
    /// Calls `body` with a pointer to each element, in order, without copying it. A copy of a
    /// slot or an event retains every string and array it holds, which touches memory the loop
    /// may never read: over a million slots that is most of the time such a loop takes.
    @inlinable
    public func forEachInPlace(_ body: (UnsafePointer<Element>) throws -> Void) rethrows {
        try withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for i in 0..<buffer.count { try body(base + i) }
        }
    }
}
