import RecoveryModel
import XCTest

final class ShardTests: XCTestCase {
    func testParsing() {
        XCTAssertEqual(Shard(parsing: "0/1"), Shard(index: 0, count: 1))
        XCTAssertEqual(Shard(parsing: "3/8")?.description, "3/8")
        for bad in ["8/8", "-1/4", "1/0", "1", "1/2/3", "a/b", "", "/"] { XCTAssertNil(Shard(parsing: bad), bad) }
    }

    /// N is at most 65,535, the largest the shard's lock key holds (16 bits of N and of K): a
    /// larger one was accepted, and shards K and K + 65,536 shared a lock, a plan of N = 2^63 - 1
    /// failed only at apply (the runs table's integer), and combine or verify looped over every
    /// shard of it (found by a hostile test).
    func testTheShardCountIsAtMostWhatTheLockKeyHolds() {
        XCTAssertEqual(Shard.maximumCount, 65_535)
        XCTAssertNotNil(Shard(index: 65_534, count: 65_535))
        XCTAssertNil(Shard(index: 0, count: 65_536))
        XCTAssertNil(Shard(parsing: "0/9223372036854775807"))
    }

    func testEveryUserIsInExactlyOneShardAndShardsAreBalanced() {
        for n in [1, 2, 3, 8] {
            let shards = (0..<n).map { Shard(index: $0, count: n)! }
            var sizes = [Int](repeating: 0, count: n)
            for user in Int64(1)...20_000 {
                let owners = shards.filter { $0.contains(userID: user) }
                XCTAssertEqual(owners.count, 1)
                sizes[owners[0].index] += 1
            }
            for size in sizes { XCTAssertEqual(Double(size), 20_000 / Double(n), accuracy: 20_000 / Double(n) * 0.1) }
        }
    }

    func testTheShardOfAUserIsTheOneThatContainsIt() {
        for n in [1, 3, 7] {
            for user in Int64(1)...200 {
                let owner = Shard(of: user, count: n)!
                XCTAssertEqual((0..<n).filter { Shard(index: $0, count: n)!.contains(userID: user) }, [owner.index])
            }
        }
        XCTAssertNil(Shard(of: 1, count: 0))
    }

    func testAssignmentIsStable() {
        // SplitMix64 seeded with 0 gives 0xe220a8397b1dcdaf first: the hash is that function.
        XCTAssertEqual(Shard(index: 0, count: 1)!.contains(userID: 0), true)
        XCTAssertEqual(UInt64(0xe220_a839_7b1d_cdaf) % 4, 3)
        XCTAssertTrue(Shard(index: 3, count: 4)!.contains(userID: 0))
        // Fixed values: a change here would move users between shards of a recovery under way.
        let four = (0..<4).map { Shard(index: $0, count: 4)! }
        XCTAssertEqual((Int64(1)...8).map { user in four.firstIndex { $0.contains(userID: user) }! }, [1, 2, 1, 2, 2, 0, 3, 2])
    }
}
