@main
struct IncidentGenerator {
    static func main() {}
}
