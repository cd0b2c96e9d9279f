import Foundation
import LiveDatabase
import PostgresClient
import RecoveryModel

/// What `plan` reads of the live database before its slots are folded, run on a thread of its own
/// while the fold runs: the users' part of the state (`LiveUserState.load`: the live keys, the
/// longest query, offline entries, users, memberships) of every user the read saw in the window,
/// and the contacts of those and of the quarantined users. The queries' time, spent in the server,
/// is hidden behind the fold instead of waited for after it. The fold's users are among those
/// read: `LiveState.load(from:userState:...)` and `contacts(of:)` keep theirs.
///
/// The connection is lent to the thread: the caller uses it again only after `result()` has
/// returned, and calls `result()` before it ends the transaction (a `PGconn` is used by one
/// thread at a time).
final class LiveUserStateRead: @unchecked Sendable {
    // Sendable: `connection` is used by the reading thread until it signals `done`, and by the
    // caller only after waiting on `done`; `outcome` is written once, before `done` is signalled,
    // and read only after waiting on it.
    private let connection: Connection
    private let window: Window
    private let quarantinedUsers: [Int64]
    private let users: Set<Int64>
    private var outcome: Result<(LiveUserState, [Int64: UserContact]), any Error>?
    private let done = DispatchSemaphore(value: 0)

    /// Starts reading, in the transaction open on `connection`, the state of the users of
    /// `batches`' events in `window`, and the contacts of those and of `quarantinedUsers`. The
    /// users are gathered here, before the thread starts: the thread holds no batch, so the fold
    /// lets go of each batch's events as it copies them, as it did (a thread that had not yet
    /// gathered them kept every event in memory beside the fold's copies).
    init(on connection: Connection, window: Window, usersOf batches: [EventBatch], quarantinedUsers: [Int64]) {
        self.connection = connection
        self.window = window
        self.quarantinedUsers = quarantinedUsers
        self.users = CandidateIDs.users(of: batches, in: window)
        Thread.detachNewThread { [self] in run() }
    }

    private func run() {
        outcome = Result {
            try LiveUserState.loadWithContacts(from: connection, window: window, users: users, contactsAlsoOf: quarantinedUsers)
        }
        done.signal()
    }

    /// Waits for the read; returns the users' state and contacts, or throws the read's error.
    func result() throws -> (state: LiveUserState, contacts: [Int64: UserContact]) {
        done.wait()
        done.signal()  // for a later call
        return try outcome!.get()
    }
}
