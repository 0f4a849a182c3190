import XCTest
@testable import Tokenizers

final class ByteStringTableTests: XCTestCase {
    func testLookupOverwriteAndGrowth() {
        var t = ByteStringTable()
        // Enough keys to grow the index several times, with prefixes of one another.
        for i in 0..<5000 { t.set(Array("k\(i)".utf8), to: Int32(i)) }
        XCTAssertEqual(t.count, 5000)
        for i in stride(from: 0, to: 5000, by: 7) { XCTAssertEqual(t["k\(i)".utf8], Int32(i)) }
        XCTAssertNil(t["k5000".utf8])
        XCTAssertNil(t["k".utf8])
        XCTAssertNil(t[[UInt8]()])
        // A repeated key takes the new value and keeps one entry (a dictionary assignment).
        t.set("k42".utf8, to: -7)
        XCTAssertEqual(t["k42".utf8], -7)
        XCTAssertEqual(t.count, 5000)
        XCTAssertEqual(Array(t.bytes(ofEntry: 42)), Array("k42".utf8))
        // Any collection of bytes looks up the same entry.
        let word: [UInt8] = Array("xxk17yy".utf8)
        XCTAssertEqual(t[word[2..<5]], 17)
        XCTAssertEqual(word.withUnsafeBufferPointer { t[UnsafeBufferPointer(rebasing: $0[2..<5])] }, 17)
    }

    func testEmptyAndBinaryKeysAndAppend() {
        var t = ByteStringTable(expectedCount: 3)
        t.set([UInt8](), to: 1)
        t.set([0, 255, 0], to: 2)
        t.append([9, 9])  // position only: not found by content
        XCTAssertEqual(t[[UInt8]()], 1)
        XCTAssertEqual(t[[0, 255, 0]], 2)
        XCTAssertNil(t[[9, 9]])
        XCTAssertEqual(Array(t.bytes(ofEntry: 2)), [9, 9])
        XCTAssertEqual(t.bytes(ofEntry: 0).count, 0)
    }
}
