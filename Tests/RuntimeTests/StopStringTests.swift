import LLMRuntime
import XCTest

final class StopStringTests: XCTestCase {
    /// Feeds `pieces` and returns what each call released, the flush, and the match.
    private func run(_ stops: [String], _ pieces: [String]) -> (released: [String], flushed: String, matched: String?) {
        var s = StopStringScanner(stops: stops)
        let released = pieces.map { s.append($0) }
        return (released, s.flush(), s.matched)
    }

    func testStopSplitAcrossPiecesIsNeverPrinted() {
        let r = run(["o w"], ["Hel", "lo", " wo", "rld"])
        XCTAssertEqual(r.released, ["Hel", "l", "", ""])
        XCTAssertEqual(r.matched, "o w")
        XCTAssertEqual(r.flushed, "")
    }

    func testHeldBackTextIsReleasedWhenItDoesNotBecomeAStop() {
        let r = run(["abc"], ["xa", "b", "d", "ab"])
        XCTAssertEqual(r.released, ["x", "", "abd", ""])
        XCTAssertNil(r.matched)
        XCTAssertEqual(r.flushed, "ab", "a tail held at the end of generation is printed")
    }

    func testEarliestStopWinsAndNothingFollowsIt() {
        let r = run(["\n\n", "B:"], ["A: 4 B: 5\n\nC", "more"])
        XCTAssertEqual(r.released, ["A: 4 ", ""])
        XCTAssertEqual(r.matched, "B:")
        XCTAssertEqual(r.flushed, "")
    }

    func testMultiByteCharactersAreReleasedWhole() {
        let r = run(["é!"], ["caf", "é", " et ", "é", "!"])
        XCTAssertEqual(r.released, ["caf", "", "é et ", "", ""])
        XCTAssertEqual(r.matched, "é!")
        let other = run(["日本"], ["日", "曜"])
        XCTAssertEqual(other.released, ["", "日曜"])
    }

    func testNoStopsOrEmptyStopsPassEverythingThrough() {
        XCTAssertEqual(run([], ["a", "b"]).released, ["a", "b"])
        XCTAssertEqual(run([""], ["a", "b"]).released, ["a", "b"])
        XCTAssertTrue(StopStringScanner(stops: [""]).isEmpty)
    }
}
