import PostgresClient
import RecoveryModel

extension LiveState {
    /// Reads the state from the live database. Run it inside a `READ ONLY` transaction so that
    /// every query sees the same snapshot (`plan`), or inside the apply's transaction.
    ///
    /// Only the ids the candidates name are read, so the cost follows the incident, not the size
    /// of the service. Times travel as integers (microseconds since 1970), never as text: the
    /// session's DateStyle and time zone cannot change what is read.
    public static func load(
        from connection: Connection, window: Window, candidates: some Collection<TimeSlot>
    ) throws -> LiveState {
        var ids = CandidateIDs()
        for slot in candidates { ids.add(slot) }
        return try load(from: connection, window: window, users: ids.users, projects: ids.projects, tasks: ids.tasks)
    }

    /// As `load(from:window:candidates:)`, given the users, projects and tasks the candidates
    /// name (`plan` gathers them from its slots in place, without copying a slot).
    public static func load(
        from connection: Connection, window: Window, users userIDs: Set<Int64>, projects projectIDs: Set<Int64>,
        tasks taskIDs: Set<Int64>
    ) throws -> LiveState {
        let part = try LiveUserState.load(from: connection, window: window, users: userIDs)
        return try load(from: connection, userState: part, users: userIDs, projects: projectIDs, tasks: taskIDs)
    }

    /// As `load(from:window:users:projects:tasks:)`, with the users' part already read
    /// (`LiveUserState.load`, in the same transaction) for `users` or for more users: only what
    /// concerns `users` and `projects` is kept, so the state is the same either way. Reads the
    /// projects and tasks, and the part of any user of `users` that `userState` was not read for
    /// (none, when it was read for the read's users: a user it missed would otherwise look absent
    /// from live, and its slots be quarantined).
    public static func load(
        from connection: Connection, userState: LiveUserState, users userIDs: Set<Int64>, projects projectIDs: Set<Int64>,
        tasks taskIDs: Set<Int64>
    ) throws -> LiveState {
        var userState = userState
        let missed = userIDs.subtracting(userState.readFor)
        if !missed.isEmpty {
            userState.add(try LiveUserState.load(from: connection, window: userState.window, users: missed))
        }
        let part = userState.restricted(to: userIDs)
        let (projects, companies) = try projects(from: connection, ids: projectIDs)
        var state = LiveState(
            presentKeys: part.presentKeys, offlineEntries: part.offlineEntries, users: part.users, projects: projects,
            tasks: try tasks(from: connection, ids: taskIDs), memberships: part.memberships.filter { projectIDs.contains($0.projectID) })
        state.companies = companies
        return state
    }

    /// The users, projects (with their company), tasks and memberships among the ids given, as
    /// live has them: what the reference checks of CONTRACT §5.5 and §7 read.
    public static func references(
        from connection: Connection, users userIDs: Set<Int64>, projects projectIDs: Set<Int64>, tasks taskIDs: Set<Int64>
    ) throws -> LiveState {
        let users = try LiveUserState.users(from: connection, ids: userIDs)
        let (projects, companies) = try projects(from: connection, ids: projectIDs)
        var state = LiveState(
            users: users, projects: projects, tasks: try tasks(from: connection, ids: taskIDs),
            memberships: try LiveUserState.memberships(from: connection, users: userIDs, projects: projectIDs))
        state.companies = companies
        return state
    }

    /// The projects among `ids` that live has, and the company of each that has one.
    static func projects(from connection: Connection, ids: Set<Int64>) throws -> (Set<Int64>, [Int64: Int64]) {
        let rows = try connection.execute(
            "SELECT id, company_id FROM \(connection.table("projects")) WHERE id = ANY($1::bigint[])", [idArray(ids)], context: "reading projects")
        var projects = Set<Int64>(), companies: [Int64: Int64] = [:]
        for (p, c) in try rows.read(table: "projects", key: [(0, "id")], { (try $0.int64(0, "id"), try $0.optionalInt64(1, "company_id")) }) {
            projects.insert(p)
            if let c { companies[p] = c }
        }
        return (projects, companies)
    }

    /// Task id → its project id, of the tasks among `ids` that live has.
    static func tasks(from connection: Connection, ids: Set<Int64>) throws -> [Int64: Int64] {
        let rows = try connection.execute(
            "SELECT id, project_id FROM \(connection.table("tasks")) WHERE id = ANY($1::bigint[])", [idArray(ids)], context: "reading tasks")
        return Dictionary(
            try rows.read(table: "tasks", key: [(0, "id")]) { (try $0.int64(0, "id"), try $0.int64(1, "project_id")) },
            uniquingKeysWith: { a, _ in a })
    }

    /// The email and time zone of each of the users given that live has, for the notices to users.
    public static func contacts(from connection: Connection, users userIDs: Set<Int64>) throws -> [Int64: UserContact] {
        let rows = try connection.execute(
            "SELECT id, email, time_zone FROM \(connection.table("users")) WHERE id = ANY($1::bigint[])", [idArray(userIDs)],
            context: "reading the users' emails")
        var contacts: [Int64: UserContact] = [:]
        for row in rows.rows {
            guard let id = row[0].flatMap({ Int64($0) }), let email = row[1] else { continue }
            contacts[id] = UserContact(email: email, timeZone: row[2] ?? "UTC")
        }
        return contacts
    }

    /// `timestamptz` microseconds since 1970 as an SQL expression: `(extract(epoch FROM c) * 1000000)::bigint`
    /// is exact (`extract` returns numeric).
    static func microseconds(_ column: String) -> String {
        "(extract(epoch FROM \(column)) * 1000000)::bigint"
    }

    /// A time as an SQL `timestamptz` built from integers, whatever the session's DateStyle.
    static func timestamptz(_ time: Timestamp) -> String {
        "(timestamptz 'epoch' + \(time.microseconds) * interval '1 microsecond')"
    }
}

/// What live holds of some users, whatever the projects and tasks: the keys of their slots in a
/// window, their offline entries near it, which of them live has, and their memberships. The part
/// of `LiveState` that the users alone decide, so that `plan` can read it while its slots, which
/// name the projects and tasks, are still being folded.
public struct LiveUserState: Sendable {
    /// The window the keys were read for.
    public var window: Window
    /// The users it was read for: what it says of them is complete.
    public var readFor: Set<Int64>
    /// Keys of live `time_slots` rows in the window.
    public var presentKeys: Set<SlotKey>
    /// Offline entries that can touch a slot of the window, in no order.
    public var offlineEntries: [OfflineEntry]
    /// The users given that live has.
    public var users: Set<Int64>
    /// The users' memberships, in any project.
    public var memberships: Set<ProjectMembership>

    public init(
        window: Window, readFor: Set<Int64>, presentKeys: Set<SlotKey> = [], offlineEntries: [OfflineEntry] = [],
        users: Set<Int64> = [], memberships: Set<ProjectMembership> = []
    ) {
        self.window = window
        self.readFor = readFor
        self.presentKeys = presentKeys
        self.offlineEntries = offlineEntries
        self.users = users
        self.memberships = memberships
    }

    /// What concerns `users` only: what `load` reads given `users`, when it was given more.
    public func restricted(to users: Set<Int64>) -> LiveUserState {
        LiveUserState(
            window: window, readFor: readFor.intersection(users),
            presentKeys: presentKeys.filter { users.contains($0.userID) },
            offlineEntries: offlineEntries.filter { users.contains($0.userID) },
            users: self.users.intersection(users),
            memberships: memberships.filter { users.contains($0.userID) })
    }

    /// Adds `other`, read in the same window for other users.
    mutating func add(_ other: LiveUserState) {
        readFor.formUnion(other.readFor)
        presentKeys.formUnion(other.presentKeys)
        offlineEntries += other.offlineEntries
        users.formUnion(other.users)
        memberships.formUnion(other.memberships)
    }

    /// Reads the users' part of the state from the live database. Run it inside a `READ ONLY`
    /// transaction, as `LiveState.load`.
    ///
    /// Only the users given are read, so the cost follows the incident, not the size of the
    /// service. Times travel as integers (microseconds since 1970), never as text: the session's
    /// DateStyle and time zone cannot change what is read.
    public static func load(from connection: Connection, window: Window, users userIDs: Set<Int64>) throws -> LiveUserState {
        let users = idArray(userIDs)
        // The users given only: the unique index on (user_id, slot_start) finds their keys without
        // reading the rest of the table. A COPY takes no parameters: the ids, integers, are
        // written into it.
        var present = Set<SlotKey>()
        try connection.copyOut(
            """
            COPY (SELECT user_id, \(LiveState.microseconds("slot_start")) FROM \(connection.table("time_slots"))
                  WHERE user_id = ANY('\(users)'::bigint[])
                    AND slot_start >= \(LiveState.timestamptz(window.from)) AND slot_start < \(LiveState.timestamptz(window.to))) TO STDOUT
            """,
            context: "reading the live slots of the window"
        ) { row in
            var fields = IntegerFields(row)
            guard let user = fields.next(), let start = fields.next() else {
                throw UnreadableValue(
                    table: "time_slots", column: "user_id, slot_start", key: "the COPY line " + String(decoding: row, as: UTF8.self),
                    value: nil, expected: "two integers (the user and the microseconds of slot_start)")
            }
            present.insert(SlotKey(userID: user, slotStart: Timestamp(microseconds: start)))
        }
        // A slot lasts at most 10 minutes, so an entry that ends after `from` and starts before
        // `to + 10 min` is the widest set that can touch a slot of the window.
        let offline = try connection.execute(
            """
            SELECT id, user_id, project_id, \(LiveState.microseconds("starts_at")), \(LiveState.microseconds("ends_at")) FROM \(connection.table("offline_entries"))
            WHERE ends_at > \(LiveState.timestamptz(window.from)) AND starts_at < \(LiveState.timestamptz(window.to.adding(minutes: 10)))
              AND user_id = ANY($1::bigint[])
            """,
            [users],
            context: "reading the offline entries near the window")
        var entries: [OfflineEntry] = []
        for entry in try offline.read(table: "offline_entries", key: [(0, "id")], { row in
            (id: try row.int64(0, "id"), user: try row.int64(1, "user_id"), project: try row.int64(2, "project_id"),
             start: try row.int64(3, "starts_at"), end: try row.int64(4, "ends_at"))
        }) where entry.start < entry.end {  // an empty or inverted interval overlaps no slot
            entries.append(OfflineEntry(
                id: entry.id, userID: entry.user, projectID: entry.project,
                interval: Window(from: Timestamp(microseconds: entry.start), to: Timestamp(microseconds: entry.end))))
        }
        return LiveUserState(
            window: window, readFor: userIDs, presentKeys: present, offlineEntries: entries, users: try Self.users(from: connection, ids: userIDs),
            memberships: try memberships(from: connection, users: userIDs, projects: nil))
    }

    /// The users among `ids` that live has.
    static func users(from connection: Connection, ids: Set<Int64>) throws -> Set<Int64> {
        let rows = try connection.execute(
            "SELECT id FROM \(connection.table("users")) WHERE id = ANY($1::bigint[])", [idArray(ids)], context: "reading users")
        return Set(try rows.read(table: "users", key: [(0, "id")]) { try $0.int64(0, "id") })
    }

    /// The memberships of `users` in `projects`, or in any project when nil.
    static func memberships(from connection: Connection, users: Set<Int64>, projects: Set<Int64>?) throws -> Set<ProjectMembership> {
        let rows = try connection.execute(
            "SELECT project_id, user_id FROM \(connection.table("project_members")) WHERE user_id = ANY($1::bigint[])"
                + (projects == nil ? "" : " AND project_id = ANY($2::bigint[])"),
            [idArray(users)] + (projects.map { [idArray($0)] } ?? []), context: "reading project members")
        return Set(try rows.read(table: "project_members", key: [(0, "project_id"), (1, "user_id")]) {
            ProjectMembership(projectID: try $0.int64(0, "project_id"), userID: try $0.int64(1, "user_id"))
        })
    }
}

/// `{1,2,3}`: ids as a PostgreSQL array literal, sorted.
func idArray(_ ids: Set<Int64>) -> String {
    "{" + ids.sorted().map(String.init).joined(separator: ",") + "}"
}

/// The users, projects and tasks that a plan's candidate slots name: what `LiveState.load` reads.
/// Gathered a slot at a time; the slots come sorted by user and one user's slots name few projects
/// and tasks, so an id equal to the one the slot before named is not hashed again (866,732 slots
/// name 20,000 users on the benchmark incident).
public struct CandidateIDs: Sendable {
    public private(set) var users = Set<Int64>()
    public private(set) var projects = Set<Int64>()
    public private(set) var tasks = Set<Int64>()
    private var lastUser: Int64?
    private var lastProject: Int64?
    private var lastTask: Int64?

    public init() {}

    /// Adds the ids `slot` names.
    public mutating func add(_ slot: TimeSlot) {
        add(user: slot.key.userID, project: slot.projectID, task: slot.taskID)
    }

    public mutating func add(user: Int64, project: Int64, task: Int64?) {
        if user != lastUser {
            users.insert(user)
            lastUser = user
        }
        if project != lastProject {
            projects.insert(project)
            lastProject = project
        }
        if let task, task != lastTask {
            tasks.insert(task)
            lastTask = task
        }
    }
}

extension CandidateIDs {
    /// The users of the events of `batches` in `window`: every user a fold of them can make a
    /// candidate of, known before the fold. A user met is remembered in a table indexed by its low
    /// 16 bits, so that only a user not met lately is hashed (each event's user hashed took
    /// 40-70 ms on the benchmark incident).
    public static func users(of batches: [EventBatch], in window: Window) -> Set<Int64> {
        let mask = (1 << 16) - 1
        // Entry i starts as a user whose low bits are not i: it matches no user indexed at i.
        var recent = (0...mask).map { Int64($0 + 1) }
        var users = Set<Int64>()
        recent.withUnsafeMutableBufferPointer { recent in
            for batch in batches {
                batch.events.withUnsafeBufferPointer { events in
                    for e in events where window.contains(microseconds: e.slotStart) {
                        let i = Int(truncatingIfNeeded: e.userID) & mask
                        if recent[i] != e.userID {
                            recent[i] = e.userID
                            users.insert(e.userID)
                        }
                    }
                }
            }
        }
        return users
    }
}

/// The tab-separated integers of a COPY text row, in order; nil at the end or for a field that
/// is not a plain integer.
struct IntegerFields {
    private let row: UnsafeRawBufferPointer
    private var position = 0

    init(_ row: UnsafeRawBufferPointer) { self.row = row }

    mutating func next() -> Int64? {
        guard position < row.count else { return nil }
        var value: Int64 = 0, negative = false, digits = 0
        if row[position] == 0x2D { negative = true; position += 1 }
        while position < row.count {
            let byte = row[position]
            position += 1
            if byte == 0x09 || byte == 0x0A { break }
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value &* 10 &+ Int64(byte - 0x30)
            digits += 1
        }
        guard digits > 0, digits <= 18 else { return nil }
        return negative ? -value : value
    }
}
