import ConflictResolver
@testable import EventSpill
import Foundation
import ReadStage
import RecoveryModel
import SlotFold
import TestSupport
import XCTest

/// The spill of `plan --memory-limit` on the demo incident's real logs and snapshot: the events
/// spilled by range of users and folded a group of ranges at a time make the fold of all of them
/// at once, whatever the chunks and the ranges.
final class EventSpillTests: XCTestCase {
    let window = Window(from: Timestamp(microseconds: 1_532_530_200_000_000), to: Timestamp(microseconds: 1_532_541_000_000_000))

    override func setUp() {
        // The demo's window, 2018-07-25T14:50:00Z to 17:50:00Z.
        XCTAssertEqual(window.from.rfc3339, "2018-07-25T14:50:00Z")
        XCTAssertEqual(window.to.rfc3339, "2018-07-25T17:50:00Z")
    }

    /// The demo read with `chunks`, or in memory without.
    func read(_ chunks: EventChunks?) throws -> PlanSources {
        try PlanSources.read(
            window: window, logs: [DemoIncident.logs], snapshots: [DemoIncident.snapshot], schema: "public", shard: nil, progress: nil, chunks: chunks)
    }

    /// `part`, the fold of the next group, appended to the groups' before it.
    func append(_ part: FoldResult, to folded: inout FoldResult) {
        folded.slots += part.slots
        folded.deleted += part.deleted
        folded.duplicates += part.duplicates
        folded.orphans += part.orphans
        folded.outsideWindow += part.outsideWindow
    }

    func testSpilledRangesFoldedInOrderAreTheWholeFold() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        var batches = try read(nil).batches
        let eventCount = batches.reduce(0) { $0 + $1.events.count }
        let whole = SlotFold.fold(taking: &batches, window: window)

        // A limit far below the demo's events, and chunks of 16 events: every file is split into
        // chunks, and the users into many ranges.
        let spill = EventSpill(limit: 16 << 10, directory: dir.path, partitionCount: 16)
        let sources = try read(EventChunks(events: 16) { spill.take($0) })
        XCTAssertTrue(sources.batches.allSatisfy(\.events.isEmpty), "the readers kept events that went to the spill")
        guard case .spilled(let spilled) = try spill.finish() else { return XCTFail("16 KiB did not spill \(eventCount) events") }
        XCTAssertGreaterThan(spilled.groups.count, 3)
        XCTAssertGreaterThan(try FileManager.default.contentsOfDirectory(atPath: spilled.directory).count, 3)

        var folded = FoldResult()
        var spilledEvents = 0
        for group in spilled.groups {
            var batches = try spilled.batches(group)
            // A group of one event (a user of one event between two users above the budget,
            // each a range of its own) comes from one chunk.
            if batches.reduce(0, { $0 + $1.events.count }) > 1 {
                XCTAssertGreaterThan(batches.count, 1, "a group's events come from several chunks and sources")
            }
            spilledEvents += batches.reduce(0) { $0 + $1.events.count }
            append(SlotFold.fold(taking: &batches, window: window), to: &folded)
        }
        XCTAssertEqual(spilledEvents, eventCount)
        XCTAssertEqual(folded, whole)
        // The case the tie order matters for: a slot with events of a log and of the snapshot.
        XCTAssertTrue(whole.slots.contains { Set($0.provenance.map(\.kind)).count == 2 })

        // The slots spilled in records of 16 and walked back, with their totals.
        let slots = try SlotSpill(directory: dir.path, headCount: 5, watched: [whole.slots[3].slot.key, whole.deleted[0].key], recordSlots: 16)
        try slots.append(Array(whole.slots[..<50]))
        try slots.append(Array(whole.slots[50...]))
        try slots.finish()
        XCTAssertEqual(try slots.slots(0..<whole.slots.count), whole.slots)
        XCTAssertEqual(try slots.slots(10..<40), Array(whole.slots[10..<40]), "across records")
        XCTAssertEqual(try slots.slots(32..<48), Array(whole.slots[32..<48]), "one whole record")
        XCTAssertEqual(try slots.slots((whole.slots.count - 3)..<whole.slots.count), Array(whole.slots.suffix(3)), "the last record")
        XCTAssertEqual(slots.head, Array(whole.slots[..<5]))
        XCTAssertEqual(slots.count, whole.slots.count)
        XCTAssertEqual(slots.minutes, whole.slots.reduce(0) { $0 + Int($1.slot.durationMinutes) })
        XCTAssertEqual(slots.users.map(\.user), Array(Set(whole.slots.map(\.slot.key.userID))).sorted())
        XCTAssertEqual(slots.users.reduce(0) { $0 + $1.slots }, whole.slots.count)
        XCTAssertEqual(slots.starts.values.reduce(0, +), whole.slots.count)
        XCTAssertEqual(slots.watchedAppended, [whole.slots[3].slot.key])
        slots.removeFiles()

        spill.removeFiles()
        XCTAssertFalse(FileManager.default.fileExists(atPath: spilled.directory))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    /// Events fed in order of users (a dump sorted by user): the first quarter of the limit holds
    /// only the lowest users, and the ranges drawn from them leave every later user in the last
    /// range. That range is split again by its own users: no group of ranges takes more than its
    /// budget, and the groups folded in order are still the whole fold.
    func testEventsInOrderOfUsersMakeNoGroupAboveItsBudget() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        // The demo's 12 users 16 times over, as users 1,000,000 apart.
        let demo = try read(nil).batches
        var batches = (0..<16).flatMap { copy in
            demo.map { batch in
                var batch = batch
                for i in batch.events.indices { batch.events[i].userID += Int64(copy) * 1_000_000 }
                return batch
            }
        }
        // Each batch cut into one part per user, and the parts fed in order of users.
        let users = Array(Set(batches.flatMap { $0.events.map(\.userID) })).sorted()
        let cut = batches.map { PartitionRecord.split($0, bounds: Array(users.dropFirst())) }
        let byUser = users.indices.map { u in cut.map { $0[u] }.filter { !$0.events.isEmpty } }
        let userBytes = byUser.map { $0.reduce(0) { $0 + PartitionRecord.encode($1, source: 0).count } }
        let whole = SlotFold.fold(taking: &batches, window: window)

        // A group's budget (an eighth of the limit) of four times the largest user's events.
        let limit = Int64(userBytes.max()! * 4 * 8)
        XCTAssertGreaterThan(Int64(userBytes.reduce(0, +)), limit, "\(users.count) users")
        let spill = EventSpill(limit: limit, directory: dir.path, partitionCount: 16)
        for parts in byUser { for part in parts { spill.take(part) } }
        guard case .spilled(let spilled) = try spill.finish() else { return XCTFail("\(limit) bytes did not spill") }
        XCTAssertLessThanOrEqual(spilled.groupBytes.max()!, spill.groupBudget, "groups of \(spilled.groupBytes), budget \(spill.groupBudget)")

        var folded = FoldResult()
        for group in spilled.groups {
            var batches = try spilled.batches(group)
            append(SlotFold.fold(taking: &batches, window: window), to: &folded)
        }
        XCTAssertEqual(folded, whole)
        spill.removeFiles()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    /// Under the limit the chunks stay in memory, and fold as the readers' whole batches do.
    func testChunksHeldInMemoryFoldAsTheWholeBatches() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        var batches = try read(nil).batches
        let whole = SlotFold.fold(taking: &batches, window: window)
        let spill = EventSpill(limit: 1 << 30, directory: dir.path)
        _ = try read(EventChunks(events: 16) { spill.take($0) })
        guard case .inMemory(var held) = try spill.finish() else { return XCTFail("1 GiB spilled the demo") }
        XCTAssertGreaterThan(held.count, 20)
        XCTAssertEqual(SlotFold.fold(taking: &held, window: window), whole)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    /// A directory that cannot be made: the first failure is kept, later chunks are dropped, and
    /// `finish` throws it.
    func testADirectoryThatCannotBeMadeFailsOnFinish() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        let missing = dir.path + "/missing"
        let spill = EventSpill(limit: 1024, directory: missing)
        _ = try read(spill.chunks)
        XCTAssertThrowsError(try spill.finish()) { error in
            XCTAssertEqual(
                "\(error)",
                "cannot spill to '\(missing)': cannot make a directory there: no such file or directory; "
                    + "set TMPDIR to a directory with room for the spill (about half the size of the compressed inputs), or raise --memory-limit")
            XCTAssertEqual((error as? SpillError)?.code, "spill_cannot_write")
        }
    }

    /// A read-back failure's hint does not send the operator to TMPDIR's room, and the slots'
    /// spill file is not called events.
    func testASpillFileThatCannotBeReadBackSaysSo() {
        let error = SpillError(.cannotRead, path: "/tmp/recover-tool-spill-x/range-0", detail: "a record ends early")
        XCTAssertEqual(
            "\(error)",
            "cannot read back the spill file '/tmp/recover-tool-spill-x/range-0': a record ends early; "
                + "run the plan again, with nothing else changing or cleaning TMPDIR while it runs (the spill files were removed)")
        XCTAssertEqual(error.code, "spill_cannot_read")
    }

    func testSizes() {
        XCTAssertEqual(MemoryLimit.parse("64M"), 64 << 20)
        XCTAssertEqual(MemoryLimit.parse("64MiB"), 64 << 20)
        XCTAssertEqual(MemoryLimit.parse("1.5G"), 3 << 29)
        XCTAssertEqual(MemoryLimit.parse("512k"), 512 << 10)
        XCTAssertEqual(MemoryLimit.parse("1048576"), 1 << 20)
        for bad in ["", "M", "0", "-1M", "64X", "1e3", "64 M M"] { XCTAssertNil(MemoryLimit.parse(bad), bad) }
        XCTAssertGreaterThan(MemoryLimit.systemDefault(), 0)
    }

    func testTheDefaultIsHalfOfTheSmallerOfMemoryAndTheCgroupLimit() throws {
        let dir = try TemporaryDirectory(prefix: "spill")
        let meminfo = dir.file("meminfo"), selfCgroup = dir.file("cgroup"), root = dir.file("sys")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("job/pod"), withIntermediateDirectories: true)
        let max = root.appendingPathComponent("job/pod/memory.max")
        try "MemTotal:        8000000 kB\nMemFree: 1 kB\n".write(to: meminfo, atomically: true, encoding: .utf8)
        try "0::/job/pod\n".write(to: selfCgroup, atomically: true, encoding: .utf8)
        try "max\n".write(to: max, atomically: true, encoding: .utf8)
        XCTAssertEqual(MemoryLimit.systemDefault(meminfo: meminfo.path, selfCgroup: selfCgroup.path, cgroupRoot: root.path), 4_096_000_000)
        try "1073741824\n".write(to: max, atomically: true, encoding: .utf8)
        XCTAssertEqual(MemoryLimit.systemDefault(meminfo: meminfo.path, selfCgroup: selfCgroup.path, cgroupRoot: root.path), 1 << 29)
    }

    /// `/proc/self/cgroup` as cgroup v2 and v1 write it, and the limits of the levels above.
    func testTheCgroupLimitIsTheTightestOfTheProcessesCgroupAndItsParents() {
        func limit(_ selfCgroup: String, _ files: [String: String]) -> Int64? {
            MemoryLimit.cgroupLimit(selfCgroup: selfCgroup, root: "/sys/fs/cgroup", read: { files[$0] })
        }
        // v2: the pod's own limit, below its parent's "max" and the root's.
        let v2 = "0::/kubepods.slice/pod1/cri-abc\n"
        XCTAssertEqual(limit(v2, ["/sys/fs/cgroup/kubepods.slice/pod1/cri-abc/memory.max": "2147483648\n",
                                  "/sys/fs/cgroup/kubepods.slice/pod1/memory.max": "max\n",
                                  "/sys/fs/cgroup/memory.max": "max\n"]), 2 << 30)
        // A parent's tighter limit counts; a missing file and "max" are no limit.
        XCTAssertEqual(limit(v2, ["/sys/fs/cgroup/kubepods.slice/pod1/cri-abc/memory.max": "max",
                                  "/sys/fs/cgroup/kubepods.slice/memory.max": "1073741824"]), 1 << 30)
        XCTAssertNil(limit(v2, ["/sys/fs/cgroup/kubepods.slice/pod1/cri-abc/memory.max": "max\n"]))
        // Inside a cgroup namespace the process is at the root.
        XCTAssertEqual(limit("0::/\n", ["/sys/fs/cgroup/memory.max": "536870912\n"]), 1 << 29)
        // v1: the memory controller's line, its limit_in_bytes (the unlimited value is a huge number).
        let v1 = "12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n0::/system.slice/docker.service\n"
        XCTAssertEqual(limit(v1, ["/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "268435456\n",
                                  "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"]), 1 << 28)
        XCTAssertEqual(limit("5:memory:/\n", ["/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"]),
                       9_223_372_036_854_771_712)
        XCTAssertNil(limit("", [:]))
        XCTAssertNil(limit("3:cpu:/a\n", ["/sys/fs/cgroup/memory/a/memory.limit_in_bytes": "1"]))
    }
}
