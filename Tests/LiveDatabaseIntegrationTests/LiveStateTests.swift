import LiveDatabase
import PostgresClient
import RecoveryModel
import SlotFold
import TestSupport
import XCTest

/// `LiveState.load` against a real PostgreSQL: present keys, offline entries near the window,
/// and the reference tables, read in one READ ONLY transaction.
final class LiveStateTests: XCTestCase {
    func testLoadsWhatTheResolverNeeds() throws {
        let db = try TestDatabase(label: "live")
        let c = try db.connect()
        _ = try c.executeSimple("""
            INSERT INTO users VALUES (1, 'a@x', 'UTC'), (2, 'b@x', 'UTC'), (3, 'c@x', 'UTC');
            INSERT INTO projects VALUES (7, 1, 'p7'), (8, 1, 'p8');
            INSERT INTO tasks VALUES (70, 7, 't70'), (80, 8, 't80');
            INSERT INTO project_members VALUES (7, 1), (8, 2);
            SET TIME ZONE 'America/Los_Angeles';
            INSERT INTO time_slots (user_id, project_id, task_id, slot_start, source, status)
              VALUES (1, 7, 70, '2018-07-25 07:50:00-07', 'client', 'active'),
                     (1, 7, 70, '2018-07-25 13:00:00+00', 'client', 'active'),
                     (2, 8, NULL, '2018-07-25 15:00:00+00', 'client', 'idle'),
                     (3, 8, NULL, '2018-07-25 15:00:00+00', 'client', 'idle');
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
              VALUES (1, 8, '2018-07-25 15:05:00+00', '2018-07-25 15:30:00+00', 1),
                     (1, 8, '2018-07-25 10:00:00+00', '2018-07-25 14:50:00+00', 1),
                     (1, 8, '2018-07-25 16:00:00+00', '2018-07-25 16:05:00+00', 1),
                     (3, 8, '2018-07-25 15:00:00+00', '2018-07-25 15:10:00+00', 3);
            """)
        let window = Window(from: Timestamp.parse("2018-07-25T14:50:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)
        func candidate(_ user: Int64, _ start: String, project: Int64, task: Int64?) -> TimeSlot {
            TimeSlot(key: SlotKey(userID: user, slotStart: Timestamp.parse(start)!), projectID: project, taskID: task,
                     status: .pending, activityLevel: nil, keystrokes: 0, mouseEvents: 0, activeApps: [],
                     screenshotKey: nil, note: nil)
        }
        let candidates = [
            candidate(1, "2018-07-25T14:50:00Z", project: 7, task: 70),
            candidate(1, "2018-07-25T15:10:00Z", project: 7, task: 80),
            candidate(2, "2018-07-25T15:20:00Z", project: 8, task: nil),
            candidate(9, "2018-07-25T15:20:00Z", project: 9, task: 99),
        ]
        try c.begin(readOnly: true, isolation: .repeatableRead)
        let live = try LiveState.load(from: c, window: window, candidates: candidates)
        try c.commit()

        XCTAssertEqual(live.presentKeys, [
            SlotKey(userID: 1, slotStart: Timestamp.parse("2018-07-25T14:50:00Z")!),
            SlotKey(userID: 2, slotStart: Timestamp.parse("2018-07-25T15:00:00Z")!),
        ], "the 13:00 slot is outside the window; user 3 is no candidate")
        XCTAssertEqual(live.offlineEntries[1]?.map(\.interval.from.rfc3339), ["2018-07-25T15:05:00Z", "2018-07-25T16:00:00Z"],
                       "the entry ending at the window's start cannot touch it; the one at 16:00 can touch a slot at 15:50")
        XCTAssertNil(live.offlineEntries[3], "user 3 is no candidate")
        XCTAssertEqual(live.users, [1, 2])
        XCTAssertEqual(live.projects, [7, 8])
        XCTAssertEqual(live.tasks, [70: 7, 80: 8])
        XCTAssertEqual(live.memberships, [.init(projectID: 7, userID: 1), .init(projectID: 8, userID: 2)])
    }

    /// `plan` reads the users' part of the state before its slots are folded, for every user its
    /// inputs name: given that, `load` keeps the candidates' users' and projects' only, and the
    /// state is the one read for the candidates alone.
    /// A user of the slots that the early read was not given is read then: its live key, offline
    /// entry and membership count, and it is not taken for a user live lacks.
    func testAUserStateReadForFewerUsersReadsTheOthersThen() throws {
        let db = try TestDatabase(label: "live_subset")
        let c = try db.connect()
        _ = try c.executeSimple("""
            INSERT INTO users VALUES (1, 'a@x', 'UTC'), (3, 'c@x', 'UTC');
            INSERT INTO projects VALUES (7, 1, 'p7');
            INSERT INTO project_members VALUES (7, 1), (7, 3);
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status)
              VALUES (1, 7, '2018-07-25 15:00:00+00', 'client', 'active'),
                     (3, 7, '2018-07-25 15:10:00+00', 'client', 'active');
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
              VALUES (3, 7, '2018-07-25 15:20:00+00', '2018-07-25 15:40:00+00', 3);
            """)
        let window = Window(from: Timestamp.parse("2018-07-25T14:50:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)
        let users: Set<Int64> = [1, 3], projects: Set<Int64> = [7]
        try c.begin(readOnly: true, isolation: .repeatableRead)
        let narrow = try LiveUserState.load(from: c, window: window, users: [1])
        let fromNarrow = try LiveState.load(from: c, userState: narrow, users: users, projects: projects, tasks: [])
        let exact = try LiveState.load(from: c, window: window, users: users, projects: projects, tasks: [])
        try c.commit()

        XCTAssertEqual(fromNarrow.users, [1, 3])
        XCTAssertEqual(fromNarrow.presentKeys, exact.presentKeys)
        XCTAssertEqual(fromNarrow.presentKeys.count, 2)
        XCTAssertEqual(fromNarrow.offlineEntries, exact.offlineEntries)
        XCTAssertEqual(fromNarrow.offlineEntries.keys.sorted(), [3])
        XCTAssertEqual(fromNarrow.memberships, exact.memberships)
        XCTAssertEqual(fromNarrow.memberships.count, 2)
    }

    func testAUserStateReadForMoreUsersGivesTheCandidatesState() throws {
        let db = try TestDatabase(label: "live_superset")
        let c = try db.connect()
        _ = try c.executeSimple("""
            INSERT INTO users VALUES (1, 'a@x', 'UTC'), (2, 'b@x', 'UTC'), (3, 'c@x', 'UTC');
            INSERT INTO projects VALUES (7, 1, 'p7'), (8, 1, 'p8');
            INSERT INTO tasks VALUES (70, 7, 't70');
            INSERT INTO project_members VALUES (7, 1), (8, 1), (7, 3);
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status)
              VALUES (1, 7, '2018-07-25 15:00:00+00', 'client', 'active'),
                     (3, 7, '2018-07-25 15:00:00+00', 'client', 'active');
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
              VALUES (1, 7, '2018-07-25 15:20:00+00', '2018-07-25 15:40:00+00', 1),
                     (3, 7, '2018-07-25 15:20:00+00', '2018-07-25 15:40:00+00', 3);
            """)
        let window = Window(from: Timestamp.parse("2018-07-25T14:50:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)
        let users: Set<Int64> = [1, 2], projects: Set<Int64> = [7, 9], tasks: Set<Int64> = [70]
        try c.begin(readOnly: true, isolation: .repeatableRead)
        let wide = try LiveUserState.load(from: c, window: window, users: [1, 2, 3, 4])
        let fromWide = try LiveState.load(from: c, userState: wide, users: users, projects: projects, tasks: tasks)
        let exact = try LiveState.load(from: c, window: window, users: users, projects: projects, tasks: tasks)
        let references = try LiveState.references(from: c, users: users, projects: projects, tasks: tasks)
        try c.commit()

        XCTAssertEqual(wide.presentKeys.map(\.userID).sorted(), [1, 3])
        XCTAssertEqual(Set(wide.offlineEntries.map(\.userID)), [1, 3])
        XCTAssertEqual(wide.users, [1, 2, 3])
        XCTAssertEqual(wide.memberships, [.init(projectID: 7, userID: 1), .init(projectID: 8, userID: 1), .init(projectID: 7, userID: 3)],
                       "every project of the users read")
        XCTAssertEqual(fromWide.presentKeys, [SlotKey(userID: 1, slotStart: Timestamp.parse("2018-07-25T15:00:00Z")!)])
        XCTAssertEqual(fromWide.presentKeys, exact.presentKeys)
        XCTAssertEqual(fromWide.offlineEntries.keys.sorted(), [1])
        XCTAssertEqual(fromWide.offlineEntries, exact.offlineEntries)
        XCTAssertEqual(fromWide.users, [1, 2])
        XCTAssertEqual(fromWide.memberships, [.init(projectID: 7, userID: 1)])
        for state in [exact, references] {
            XCTAssertEqual(fromWide.users, state.users)
            XCTAssertEqual(fromWide.projects, state.projects)
            XCTAssertEqual(fromWide.companies, state.companies)
            XCTAssertEqual(fromWide.tasks, state.tasks)
            XCTAssertEqual(fromWide.memberships, state.memberships)
        }
    }

    /// The live state reads times as integers: a session whose DateStyle prints `25/07/2018` (or
    /// `07/25/2018`) must see the same present keys and offline entries as an ISO one.
    func testLoadDoesNotDependOnDateStyle() throws {
        let db = try TestDatabase(label: "live_datestyle")
        let c = try db.connect()
        _ = try c.executeSimple("""
            INSERT INTO users VALUES (1, 'a@x', 'UTC');
            INSERT INTO projects VALUES (7, 1, 'p7');
            INSERT INTO project_members VALUES (7, 1);
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status)
              VALUES (1, 7, '2018-07-25 15:00:00+00', 'client', 'active');
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
              VALUES (1, 7, '2018-07-25 15:20:00.5+00', '2018-07-25 15:40:00+00', 1);
            """)
        let window = Window(from: Timestamp.parse("2018-07-25T14:50:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)
        let candidates = [TimeSlot(
            key: SlotKey(userID: 1, slotStart: Timestamp.parse("2018-07-25T15:00:00Z")!), projectID: 7, taskID: nil,
            status: .pending, activityLevel: nil, keystrokes: 0, mouseEvents: 0, activeApps: [],
            screenshotKey: nil, note: nil)]
        for style in ["SQL, DMY", "Postgres, MDY", "German"] {
            _ = try c.executeSimple("SET DateStyle = '\(style)'; SET TIME ZONE 'Asia/Kolkata'")
            try c.begin(readOnly: true, isolation: .repeatableRead)
            let live = try LiveState.load(from: c, window: window, candidates: candidates)
            try c.commit()
            XCTAssertEqual(live.presentKeys, [candidates[0].key], "DateStyle \(style)")
            XCTAssertEqual(live.offlineEntries[1]?.map(\.interval), [Window(
                from: Timestamp.parse("2018-07-25T15:20:00.5Z")!, to: Timestamp.parse("2018-07-25T15:40:00Z")!)],
                "DateStyle \(style)")
        }
    }

    /// `plan`'s early read takes the contacts from the statement that reads which users live has:
    /// the users are those given that live has, never a contacted user besides them, and the
    /// contacts are what `contacts` reads for both.
    func testLoadWithContactsReadsTheUsersAndTheirContactsTogether() throws {
        let db = try TestDatabase(label: "live_contacts")
        let c = try db.connect()
        _ = try c.executeSimple("""
            INSERT INTO users VALUES (1, 'a@x', 'Europe/Paris'), (2, 'b@x', 'UTC'), (3, 'c@x', 'Asia/Kolkata'), (4, 'd@x', 'UTC');
            INSERT INTO projects VALUES (7, 1, 'p7');
            INSERT INTO project_members VALUES (7, 1), (7, 3);
            """)
        let window = Window(from: Timestamp.parse("2018-07-25T14:50:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)
        try c.begin(readOnly: true, isolation: .repeatableRead)
        let (state, contacts) = try LiveUserState.loadWithContacts(from: c, window: window, users: [1, 2, 9], contactsAlsoOf: [3, 8, 1])
        let alone = try LiveUserState.load(from: c, window: window, users: [1, 2, 9])
        let expected = try LiveState.contacts(from: c, users: [1, 2, 9, 3, 8])
        try c.commit()

        XCTAssertEqual(state.readFor, [1, 2, 9])
        XCTAssertEqual(state.users, [1, 2], "user 3 is contacted, not read")
        XCTAssertEqual(state.users, alone.users)
        XCTAssertEqual(state.memberships, [.init(projectID: 7, userID: 1)])
        XCTAssertEqual(state.memberships, alone.memberships)
        XCTAssertEqual(contacts, expected)
        XCTAssertEqual(contacts, [
            1: UserContact(email: "a@x", timeZone: "Europe/Paris"), 2: UserContact(email: "b@x", timeZone: "UTC"),
            3: UserContact(email: "c@x", timeZone: "Asia/Kolkata"),
        ])
    }

    /// The live keys travel as binary `timestamptz`, microseconds since 2000: a slot before 2000
    /// (a negative count) and one with microseconds read as they were written.
    func testPresentKeysBeforeAndAfter2000() throws {
        let db = try TestDatabase(label: "live_epoch")
        let c = try db.connect()
        _ = try c.executeSimple("""
            INSERT INTO users VALUES (1, 'a@x', 'UTC');
            INSERT INTO projects VALUES (7, 1, 'p7');
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status)
              VALUES (1, 7, '1999-12-31 23:50:00+00', 'client', 'active'),
                     (1, 7, '2000-01-01 00:00:00+00', 'client', 'active'),
                     (1, 7, '1969-12-31 23:50:00+00', 'client', 'active');
            """)
        let window = Window(from: Timestamp.parse("1969-12-31T23:50:00Z")!, to: Timestamp.parse("2000-01-01T00:10:00Z")!)
        try c.begin(readOnly: true, isolation: .repeatableRead)
        let state = try LiveUserState.load(from: c, window: window, users: [1])
        try c.commit()
        XCTAssertEqual(Set(state.presentKeys.map(\.slotStart.rfc3339)), ["1969-12-31T23:50:00Z", "1999-12-31T23:50:00Z", "2000-01-01T00:00:00Z"])
        XCTAssertEqual(state.presentKeys.map(\.slotStart.microseconds).min(), -600_000_000)
    }

    /// The window's bounds reach the server exactly, to the microsecond, in any year the tool
    /// holds: a bound built through a float8 of microseconds was rounded past about 2255 (2^53
    /// microseconds), and a window ending a microsecond after a live slot's start missed it.
    func testWindowBoundsAreExactInLateYears() throws {
        let db = try TestDatabase(label: "live_late")
        let c = try db.connect()
        _ = try c.executeSimple("""
            INSERT INTO users VALUES (1, 'a@x', 'UTC');
            INSERT INTO projects VALUES (7, 1, 'p7');
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status)
              VALUES (1, 7, '2300-01-01 00:00:00+00', 'client', 'active'),
                     (1, 7, '9999-12-31 23:50:00+00', 'client', 'active');
            """)
        for (from, to, present) in [
            ("2299-12-31T23:00:00Z", "2300-01-01T00:00:00.000001Z", ["2300-01-01T00:00:00Z"]),
            ("2300-01-01T00:00:00.000001Z", "2300-01-01T01:00:00Z", []),
            ("9999-12-31T23:50:00Z", "9999-12-31T23:50:00.000001Z", ["9999-12-31T23:50:00Z"]),
            ("9999-12-31T23:40:00Z", "9999-12-31T23:49:59.999999Z", []),
        ] {
            let window = Window(from: Timestamp.parse(from)!, to: Timestamp.parse(to)!)
            try c.begin(readOnly: true, isolation: .repeatableRead)
            let state = try LiveUserState.load(from: c, window: window, users: [1])
            try c.commit()
            XCTAssertEqual(state.presentKeys.map(\.slotStart.rfc3339), present, "\(from) to \(to)")
        }
    }

    /// `restricted(to:)` keeps what is of the users kept: all of it when every user read is kept
    /// (given more users or exactly the users read), and only theirs otherwise.
    func testRestrictedKeepsWhatIsOfTheUsersKept() {
        let window = Window(from: Timestamp.parse("2018-07-25T14:50:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)
        let start = window.from
        let entry = { (id: Int64, user: Int64) in
            OfflineEntry(id: id, userID: user, projectID: 7, interval: Window(from: start, to: start.adding(minutes: 20)))
        }
        let state = LiveUserState(
            window: window, readFor: [1, 2, 3],
            presentKeys: [SlotKey(userID: 1, slotStart: start), SlotKey(userID: 2, slotStart: start), SlotKey(userID: 2, slotStart: start.adding(minutes: 10))],
            offlineEntries: [entry(10, 2), entry(11, 1), entry(12, 2), entry(13, 3)], users: [1, 2],
            memberships: [.init(projectID: 7, userID: 1), .init(projectID: 8, userID: 2), .init(projectID: 7, userID: 3)])
        for users: Set<Int64> in [[1, 2, 3], [1, 2, 3, 4]] {
            let all = state.restricted(to: users)
            XCTAssertEqual(all.readFor, state.readFor)
            XCTAssertEqual(all.presentKeys, state.presentKeys)
            XCTAssertEqual(all.offlineEntries, state.offlineEntries)
            XCTAssertEqual(all.users, state.users)
            XCTAssertEqual(all.memberships, state.memberships)
        }
        let part = state.restricted(to: [2, 4])
        XCTAssertEqual(part.readFor, [2])
        XCTAssertEqual(part.presentKeys, [SlotKey(userID: 2, slotStart: start), SlotKey(userID: 2, slotStart: start.adding(minutes: 10))])
        XCTAssertEqual(part.offlineEntries.map(\.id), [10, 12], "in the order read")
        XCTAssertEqual(part.users, [2])
        XCTAssertEqual(part.memberships, [.init(projectID: 8, userID: 2)])
        XCTAssertEqual(state.restricted(to: []).presentKeys, [])
    }

    /// The ids of slots sorted by user, each looked up once per run: the same sets as every id
    /// inserted.
    func testCandidateIDsAreEveryIDTheSlotsName() {
        let named: [(Int64, Int64, Int64?)] = [(1, 7, 70), (1, 7, 70), (1, 8, nil), (1, 7, 70), (2, 7, 71), (2, 9, 70), (3, 9, nil), (1, 10, 72)]
        var ids = CandidateIDs()
        for (user, project, task) in named { ids.add(user: user, project: project, task: task) }
        XCTAssertEqual(ids.users, Set(named.map(\.0)))
        XCTAssertEqual(ids.projects, Set(named.map(\.1)))
        XCTAssertEqual(ids.tasks, Set(named.compactMap(\.2)))
    }

    /// Ids gathered from parts of the slots apart, then merged: the ids of all the slots.
    func testCandidateIDsGatheredInPartsAreTheWholeSlotsIDs() {
        let named: [(Int64, Int64, Int64?)] = [(1, 7, 70), (1, 8, nil), (2, 7, 71), (2, 9, nil), (3, 9, 70), (3, 10, 72), (4, 7, nil)]
        var whole = CandidateIDs()
        for (user, project, task) in named { whole.add(user: user, project: project, task: task) }
        var merged = CandidateIDs()
        for part in [named[..<3], named[3..<3], named[3...]] {
            var ids = CandidateIDs()
            for (user, project, task) in part { ids.add(user: user, project: project, task: task) }
            merged.formUnion(ids)
        }
        merged.add(user: 5, project: 7, task: 70)
        whole.add(user: 5, project: 7, task: 70)
        XCTAssertEqual(merged.users, whole.users)
        XCTAssertEqual(merged.projects, whole.projects)
        XCTAssertEqual(merged.tasks, whole.tasks)
    }

    /// The users of a read's events in the window, gathered before the fold: every one, whether
    /// its low bits meet another's in the table of users met lately or not.
    func testUsersOfBatchesAreEveryUserOfAnEventInTheWindow() {
        let window = Window(from: Timestamp.parse("2018-07-25T14:50:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)
        let inside = window.from.microseconds, outside = window.to.microseconds
        func batch(_ events: [(user: Int64, start: Int64)]) -> EventBatch {
            var batch = EventBatch(source: "test")
            batch.events = events.map { EventBatch.Event(userID: $0.user, slotStart: $0.start, time: $0.start, line: 1, payload: 0, host: 0, tag: 0) }
            return batch
        }
        let batches = [
            batch([(1, inside), (65537, inside), (1, inside), (2, outside), (131_073, inside), (65537, inside)]),
            batch([(-1, inside), (65536, inside), (0, inside), (1, inside), (7, outside), (7, inside - 1)]),
            batch([]),
        ]
        XCTAssertEqual(CandidateIDs.users(of: batches, in: window), [1, 65537, 131_073, -1, 65536, 0])
        XCTAssertEqual(CandidateIDs.users(of: [], in: window), [])
    }
}
