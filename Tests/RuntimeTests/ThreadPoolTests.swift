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
}
