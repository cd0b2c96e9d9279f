/// The reports a plan directory holds besides `plan.json` and the rows file, in the order they are
/// written. Each is a pure function of the plan and its evidence.
public enum ReportRenderers {
    public static let all: [ReportRenderer] = [
        MarkdownReport.renderer,
        HTMLReport.renderer,
        RecoveredCSV.renderer,
        DroppedCSV.renderer,
        QuarantinedCSV.renderer,
        UsersCSV.renderer,
        NoticesCSV.renderer,
    ]
}
