import Foundation
import LiveDatabase
import PostgresClient
import RecoveryModel

/// `LiveOccupancy.load` for every user the read saw in the window, run on a thread of its own
/// while the fold runs: the query's time, spent in the server, is hidden behind the fold instead
/// of waited for after it. The fold's users are among those read (`LiveState.load` keeps theirs).
///
/// The connection is lent to the thread: the caller uses it again only after `result()` has
/// returned, and calls `result()` before it ends the transaction (a `PGconn` is used by one
/// thread at a time).
final class LiveOccupancyRead: @unchecked Sendable {
    // Sendable: `connection` is used by the reading thread until it signals `done`, and by the
    // caller only after waiting on `done`; `batches` is read and let go by the thread alone;
    // `outcome` is written once, before `done` is signalled, and read only after waiting on it.
    private let connection: Connection
    private let window: Window
    private var batches: [EventBatch]?
    private var outcome: Result<LiveOccupancy, any Error>?
    private let done = DispatchSemaphore(value: 0)

    /// Starts reading, in the transaction open on `connection`, the keys and entries of the users
    /// of `batches`' events in `window`. The batches are let go once their users are gathered, so
    /// the fold lets go of its events as it did.
    init(on connection: Connection, window: Window, usersOf batches: [EventBatch]) {
        self.connection = connection
        self.window = window
        self.batches = batches
        Thread.detachNewThread { [self] in run() }
    }

    private func run() {
        let users = RecoveryPlanning.userIDs(of: batches ?? [], window: window)
        batches = nil
        outcome = Result { try LiveOccupancy.load(from: connection, window: window, users: users) }
        done.signal()
    }

    /// Waits for the read; returns what it read or throws its error.
    func result() throws -> LiveOccupancy {
        done.wait()
        done.signal()  // for a later call
        return try outcome!.get()
    }
}
