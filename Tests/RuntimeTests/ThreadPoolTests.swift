import Foundation
import XCTest
import Synchronization
import LLMRuntime

final class ThreadPoolTests: XCTestCase {
    /// Every chunk runs exactly once, on fresh pools used at once (a worker that starts late
    /// must still take part in the first region) and on a reused pool. Runs under a watchdog
    /// so a lost wake-up fails the test instead of hanging it.
    func testEveryChunkRunsOnceAndNothingHangs() {
        let done = expectation(description: "regions finished")
        let failures = Atomic<Int>(0)
        Thread.detachNewThread {
            for round in 0..<400 {
                let pool = ThreadPool(threadCount: 2 + round % 3)
                for chunks in [1, 2, 7, 64] {
                    let counts = UnsafeMutablePointer<Int>.allocate(capacity: chunks)
                    counts.initialize(repeating: 0, count: chunks)
                    pool.parallelFor(chunks) { c, t in
                        counts[c] += 1
                        if t >= pool.threadCount { failures.add(1, ordering: .relaxed) }
                    }
                    for c in 0..<chunks where counts[c] != 1 { failures.add(1, ordering: .relaxed) }
                    counts.deallocate()
                }
            }
            done.fulfill()
        }
        wait(for: [done], timeout: 120)
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
    }

    /// More threads than cores (as on a box with other busy processes): regions end without
    /// waiting for workers that never got a core, so a worker often wakes to a region that is
    /// over, or several regions later. Every chunk of every region must still run exactly
    /// once, with that region's body: a late worker taking a chunk of a region that had moved
    /// on would count twice somewhere, or into the wrong region's row.
    func testOversubscribedPoolRunsEachChunkOnceInItsOwnRegion() {
        let done = expectation(description: "regions finished")
        let failures = Atomic<Int>(0)
        Thread.detachNewThread {
            let pool = ThreadPool(threadCount: 3 * ThreadPool.processorCount + 2)
            let regions = 3000, width = 40
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: regions * width)
            counts.initialize(repeating: 0, count: regions * width)
            var sizes: [Int] = []
            for region in 0..<regions {
                let chunks = 2 + (region * 7) % (width - 1)
                sizes.append(chunks)
                pool.parallelFor(chunks) { c, t in
                    counts[region * width + c] += 1
                    if t >= pool.threadCount || c >= chunks { failures.add(1, ordering: .relaxed) }
                }
            }
            for region in 0..<regions {
                for c in 0..<width where counts[region * width + c] != (c < sizes[region] ? 1 : 0) {
                    failures.add(1, ordering: .relaxed)
                }
            }
            counts.deallocate()
            done.fulfill()
        }
        wait(for: [done], timeout: 120)
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
    }
}
