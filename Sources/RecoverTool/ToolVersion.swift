extension RecoverTool {
    /// Recorded in plans and in `recovery.runs`.
    static let toolVersion = "0.1.0"
}
