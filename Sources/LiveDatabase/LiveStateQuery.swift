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
        try LiveUserState.users(from: connection, ids: idArray(userIDs), contacts: true).contacts
    }

    /// `timestamptz` microseconds since 1970 as an SQL expression: `(extract(epoch FROM c) * 1000000)::bigint`
    /// is exact (`extract` returns numeric). A time beyond the years 1 to 9999 the tool holds
    /// (`infinity`, `-infinity`: an offline entry "until further notice") is taken at the nearest
    /// of them: it covers the same slots, and its cast no longer fails.
    static func microseconds(_ column: String) -> String {
        // The last whole second: an entry "until further notice" ends at 9999-12-31T23:59:59Z.
        let first = timestamptz(Timestamp.earliest)
        let last = timestamptz(Timestamp(microseconds: Timestamp.latest.microseconds - 999_999))
        return "(extract(epoch FROM least(greatest(\(column), \(first)), \(last))) * 1000000)::bigint"
    }

    /// A time as an SQL `timestamptz` built from integers, whatever the session's DateStyle:
    /// whole seconds and the microseconds past them. A number times an interval is a float8
    /// product; a count of seconds (under 2^38 for the years 1 to 9999) times a million is one
    /// exactly, a count of microseconds past about 2255 (2^53) is not.
    static func timestamptz(_ time: Timestamp) -> String {
        let (seconds, micros) = time.microseconds.floorDividedBy(1_000_000)
        return "(timestamptz 'epoch' + \(seconds) * interval '1 second' + \(micros) * interval '1 microsecond')"
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

    /// Every key, entry, user and membership given must be of a user of `readFor`, as `load` reads them.
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
    ///
    /// Everything held is of a user of `readFor`, so only the users read and not in `users` are
    /// taken out, and only what is theirs is removed: the rest is not hashed into new sets
    /// (75,000 keys, users and memberships on the benchmark incident, nearly all kept).
    public func restricted(to users: Set<Int64>) -> LiveUserState {
        let dropped = readFor.subtracting(users)
        if dropped.isEmpty { return self }
        var part = self
        part.readFor.subtract(dropped)
        part.presentKeys.subtract(presentKeys.filter { dropped.contains($0.userID) })
        part.offlineEntries.removeAll { dropped.contains($0.userID) }
        part.users.subtract(dropped)
        part.memberships.subtract(memberships.filter { dropped.contains($0.userID) })
        return part
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
    /// service. Times travel as integers (microseconds), never as text: the session's DateStyle
    /// and time zone cannot change what is read.
    public static func load(from connection: Connection, window: Window, users userIDs: Set<Int64>) throws -> LiveUserState {
        try load(from: connection, window: window, users: userIDs, contactsAlsoOf: nil).state
    }

    /// As `load(from:window:users:)`, and the contacts (`LiveState.contacts`) of `users` and of
    /// `others`, read by the statement that reads which users live has: what `plan` reads before
    /// its slots are folded, in one statement fewer.
    public static func loadWithContacts(
        from connection: Connection, window: Window, users userIDs: Set<Int64>, contactsAlsoOf others: some Sequence<Int64>
    ) throws -> (state: LiveUserState, contacts: [Int64: UserContact]) {
        try load(from: connection, window: window, users: userIDs, contactsAlsoOf: userIDs.union(others))
    }

    /// The users' part of the state, and the contacts of `contacted` (a superset of `userIDs`)
    /// when given: read with the users, whom it then names.
    private static func load(
        from connection: Connection, window: Window, users userIDs: Set<Int64>, contactsAlsoOf contacted: Set<Int64>?
    ) throws -> (state: LiveUserState, contacts: [Int64: UserContact]) {
        // The ids' literal is made once for the statements below (20,000 users on the benchmark
        // incident: sorting and writing them took milliseconds a statement).
        let users = idArray(userIDs)
        let present = try presentKeys(from: connection, window: window, users: users)
        let offline = try offlineEntries(from: connection, window: window, users: users)
        let contactsOthers = contacted.map { $0 != userIDs } ?? false
        var (live, contacts) = try Self.users(
            from: connection, ids: contactsOthers ? idArray(contacted!) : users, contacts: contacted != nil)
        if contactsOthers { live.formIntersection(userIDs) }
        let state = LiveUserState(
            window: window, readFor: userIDs, presentKeys: present, offlineEntries: offline, users: live,
            memberships: try memberships(from: connection, users: users, projects: nil))
        return (state, contacts)
    }

    /// Keys of the live `time_slots` rows of `users` (an `idArray` literal) in `window`.
    ///
    /// The unique index on (user_id, slot_start) finds each user's keys without reading the rest
    /// of the table. The ids reach the server as the value of a subquery, not as a constant of the
    /// statement: the index scan takes them all the same, and the planner does not estimate the
    /// rows of each id against the column's statistics (on the benchmark incident, 20,000 ids:
    /// 15 ms of the statement's 79 ms of server time). A COPY takes no parameters: the ids,
    /// integers, are written into it. Rows come in binary, `slot_start` as its microseconds since
    /// 2000: no text or numeric for the server to make or the tool to parse.
    static func presentKeys(from connection: Connection, window: Window, users: String) throws -> Set<SlotKey> {
        var present = Set<SlotKey>()
        try connection.copyOutBinary(
            """
            COPY (SELECT user_id, slot_start FROM \(connection.table("time_slots"))
                  WHERE user_id = ANY((SELECT '\(users)'::bigint[])::bigint[])
                    AND slot_start >= \(LiveState.timestamptz(window.from)) AND slot_start < \(LiveState.timestamptz(window.to))) TO STDOUT (FORMAT binary)
            """,
            context: "reading the live slots of the window"
        ) { row in
            let userField = row.next(), startField = row.next()
            guard let user = userField?.int64 else {
                throw UnreadableValue(
                    table: "time_slots", column: "user_id", key: "a slot of the window", value: userField?.hex,
                    expected: "a bigint in binary")
            }
            guard let start = startField?.timestamptzMicroseconds else {
                throw UnreadableValue(
                    table: "time_slots", column: "slot_start", key: "user_id \(user)", value: startField?.hex,
                    expected: "a finite timestamptz in binary")
            }
            present.insert(SlotKey(userID: user, slotStart: Timestamp(microseconds: start)))
        }
        return present
    }

    /// The offline entries of `users` (an `idArray` literal) that can touch a slot of `window`.
    ///
    /// `offline_entries` has no index on its users: it is read whole, and the users are joined
    /// from the array rather than tested with `= ANY`, whose planning estimates every id against
    /// the column's statistics (on the benchmark incident, 24 ms of planning for a 2 ms scan).
    static func offlineEntries(from connection: Connection, window: Window, users: String) throws -> [OfflineEntry] {
        // A slot lasts at most 10 minutes, so an entry that ends after `from` and starts before
        // `to + 10 min` is the widest set that can touch a slot of the window.
        let offline = try connection.execute(
            """
            SELECT o.id, o.user_id, o.project_id, \(LiveState.microseconds("o.starts_at")), \(LiveState.microseconds("o.ends_at"))
            FROM pg_catalog.unnest($1::bigint[]) AS k(user_id) JOIN \(connection.table("offline_entries")) o ON o.user_id = k.user_id
            WHERE o.ends_at > \(LiveState.timestamptz(window.from)) AND o.starts_at < \(LiveState.timestamptz(window.to.adding(minutes: 10)))
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
        return entries
    }

    /// The users among `ids` that live has.
    static func users(from connection: Connection, ids: Set<Int64>) throws -> Set<Int64> {
        try users(from: connection, ids: idArray(ids), contacts: false).users
    }

    /// The users among `ids` (an `idArray` literal) that live has and, when `contacts`, the email
    /// and time zone of each (a user without an email has no contact), in binary rows.
    static func users(from connection: Connection, ids: String, contacts: Bool) throws -> (users: Set<Int64>, contacts: [Int64: UserContact]) {
        var users = Set<Int64>(), found: [Int64: UserContact] = [:]
        try connection.copyOutBinary(
            "COPY (SELECT id\(contacts ? ", email, time_zone" : "") FROM \(connection.table("users")) WHERE id = ANY('\(ids)'::bigint[])) TO STDOUT (FORMAT binary)",
            context: contacts ? "reading the users' emails" : "reading users"
        ) { row in
            let idField = row.next()
            guard let id = idField?.int64 else {
                throw UnreadableValue(table: "users", column: "id", key: "a user read", value: idField?.hex, expected: "a bigint in binary")
            }
            users.insert(id)
            if contacts, let email = row.next()?.text {
                found[id] = UserContact(email: email, timeZone: row.next()?.text ?? "UTC")
            }
        }
        return (users, found)
    }

    /// The memberships of `users` (an `idArray` literal) in `projects`, or in any project when nil.
    static func memberships(from connection: Connection, users: String, projects: Set<Int64>?) throws -> Set<ProjectMembership> {
        var memberships = Set<ProjectMembership>()
        try connection.copyOutBinary(
            "COPY (SELECT project_id, user_id FROM \(connection.table("project_members")) WHERE user_id = ANY('\(users)'::bigint[])"
                + (projects.map { " AND project_id = ANY('\(idArray($0))'::bigint[])" } ?? "") + ") TO STDOUT (FORMAT binary)",
            context: "reading project members"
        ) { row in
            let projectField = row.next(), userField = row.next()
            guard let project = projectField?.int64, let user = userField?.int64 else {
                throw UnreadableValue(
                    table: "project_members", column: "project_id, user_id", key: "a membership read",
                    value: "\(projectField?.hex ?? "NULL"), \(userField?.hex ?? "NULL")", expected: "two bigints in binary")
            }
            memberships.insert(ProjectMembership(projectID: project, userID: user))
        }
        return memberships
    }

    /// The memberships of `users` in `projects`, or in any project when nil.
    static func memberships(from connection: Connection, users: Set<Int64>, projects: Set<Int64>?) throws -> Set<ProjectMembership> {
        try memberships(from: connection, users: idArray(users), projects: projects)
    }
}

/// `{1,2,3}`: ids as a PostgreSQL array literal, sorted. About 2 ms for 20,000 ids: a read makes
/// it once for its statements.
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

    /// Adds the ids `other` gathered (from other slots).
    public mutating func formUnion(_ other: CandidateIDs) {
        users.formUnion(other.users)
        projects.formUnion(other.projects)
        tasks.formUnion(other.tasks)
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
