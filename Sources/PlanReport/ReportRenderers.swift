/// The reports a plan directory holds besides `plan.json` and the rows file.
public enum ReportRenderers {
    public static let all: [ReportRenderer] = []
}
