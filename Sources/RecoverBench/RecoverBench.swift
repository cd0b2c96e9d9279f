@main
struct RecoverBench {
    static func main() {}
}
