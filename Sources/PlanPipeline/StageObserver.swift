/// Watches the stages of a pipeline run: the executable logs each stage's time (`--verbose`) and
/// draws progress on a terminal. The pipeline never prints; it tells this.
public protocol StageObserver {
    /// Runs `body`, the stage named `stage` ("read", "fold", ...), and returns its value.
    func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T
    /// A `(done, total)` callback for a stage with a measure of its own, or nil to draw nothing.
    func progress(_ label: String) -> (@Sendable (Int64, Int64) -> Void)?
    /// The measured stage is over: clear what `progress` drew.
    func endProgress()
}
