/// An offline entry a user added: time worked without the client (`offline_entries`).
public struct OfflineEntry: Hashable, Sendable {
    public var id: Int64
    public var userID: Int64
    public var projectID: Int64
    public var interval: Window

    public init(id: Int64, userID: Int64, projectID: Int64, interval: Window) {
        self.id = id
        self.userID = userID
        self.projectID = projectID
        self.interval = interval
    }
}

/// How to reach a user: their email and IANA time zone (`users.email`, `users.time_zone`), for
/// the plan's notices.
public struct UserContact: Hashable, Sendable {
    public var email: String
    public var timeZone: String

    public init(email: String, timeZone: String) {
        self.email = email
        self.timeZone = timeZone
    }
}

/// What the resolver needs to know of the live database for one window: the slots already there,
/// the offline entries near the window, and the users, projects, tasks and memberships that the
/// candidates name. `LiveDatabase` reads it; the resolver and `apply`'s re-checks judge against it.
public struct LiveState: Sendable {
    /// Keys of live `time_slots` rows in the window, of the candidates' users.
    public var presentKeys: Set<SlotKey>
    /// Offline entries by user, sorted by start.
    public var offlineEntries: [Int64: [OfflineEntry]]
    public var users: Set<Int64>
    public var projects: Set<Int64>
    /// Task id → its project id.
    public var tasks: [Int64: Int64]
    public var memberships: Set<Membership>
    /// Project id → its company (the customer), for the projects read.
    public var companies: [Int64: Int64] = [:]

    public typealias Membership = ProjectMembership

    public init(
        presentKeys: Set<SlotKey> = [], offlineEntries: [OfflineEntry] = [], users: Set<Int64> = [],
        projects: Set<Int64> = [], tasks: [Int64: Int64] = [:], memberships: Set<Membership> = []
    ) {
        self.presentKeys = presentKeys
        self.offlineEntries = Dictionary(grouping: offlineEntries, by: \.userID)
            .mapValues { $0.sorted { ($0.interval.from, $0.id) < ($1.interval.from, $1.id) } }
        self.users = users
        self.projects = projects
        self.tasks = tasks
        self.memberships = memberships
    }
}
