/// The tool's version, recorded in every plan and run.
public enum ToolVersion {
    public static let current = "0.1.0"
}
