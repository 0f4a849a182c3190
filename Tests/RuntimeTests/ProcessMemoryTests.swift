import XCTest
import LLMRuntime
#if canImport(Glibc)
import Glibc
#endif

final class ProcessMemoryTests: XCTestCase {
    /// The budget planner and the prune report read these; touching 64 MB must show.
    /// - The block is mapped here, not malloc'd: an allocator may hand back pages that are
    ///   already resident, and then nothing rises.
    /// - Some kernels fold the counters into /proc lazily, so the reading is polled (bounded).
    /// - Other tests' servers and models may still be going away in the background, their buffers
    ///   unmapped as they go, which can hide the rise in one try: the best of three counts.
    func testResidentAndPeakFollowTouchedMemory() throws {
        XCTAssertGreaterThan(ProcessMemory.residentBytes, 1_000_000)
        let count = 64 << 20, wanted = 48 << 20
        var bestRise = 0
        for _ in 0..<3 where bestRise <= wanted {
            let before = ProcessMemory.residentBytes
            let mapped = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let mapped, mapped != MAP_FAILED else { throw XCTSkip("no 64 MB to map") }
            let block = mapped.assumingMemoryBound(to: UInt8.self)
            for page in stride(from: 0, to: count, by: 4096) { block[page] = 1 }
            var during = ProcessMemory.residentBytes
            for _ in 0..<40 where during - before <= wanted {
                usleep(25_000)
                during = ProcessMemory.residentBytes
            }
            bestRise = max(bestRise, during - before)
            XCTAssertGreaterThanOrEqual(ProcessMemory.peakResidentBytes, during)
            munmap(mapped, count)
        }
        XCTAssertGreaterThan(bestRise, wanted)
    }
}
