import PlanFormat

/// `users.csv`: `plan.json`'s per-user totals, for the users the report's table leaves out.
enum UsersCSV {
    static let header = ["user_id", "recovered", "recovered_minutes", "already_present", "offline_overlap", "quarantined"]

    static let renderer = ReportRenderer(fileName: "users.csv") { document, _ in render(document) }

    static func render(_ document: PlanDocument) -> String {
        var out = CSVText.record(header)
        for u in document.users {
            out += CSVText.record([Int(u.userID), u.recovered, u.recoveredMinutes, u.alreadyPresent, u.offlineOverlap, u.quarantined]
                .map { String($0) })
        }
        return out
    }
}
