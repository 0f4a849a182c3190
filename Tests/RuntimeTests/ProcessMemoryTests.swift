import XCTest
import LLMRuntime

final class ProcessMemoryTests: XCTestCase {
    /// The budget planner and the prune report read these; touching 64 MB must show.
    func testResidentAndPeakFollowTouchedMemory() {
        let before = ProcessMemory.residentBytes
        XCTAssertGreaterThan(before, 1_000_000)
        let count = 64 << 20
        let block = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        defer { block.deallocate() }
        block.initialize(repeating: 1, count: count)
        let during = ProcessMemory.residentBytes
        XCTAssertGreaterThan(during - before, 48 << 20)
        XCTAssertGreaterThanOrEqual(ProcessMemory.peakResidentBytes, during)
    }
}
