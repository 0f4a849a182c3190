import XCTest
@testable import LineEditing

final class KeyDecoderTests: XCTestCase {
    func testArrowsHomeEndAndControlKeys() {
        var d = KeyDecoder()
        let keys = d.feed(Array("ab\u{1B}[D\u{1B}[C\u{1B}[H\u{1B}[F\u{1B}OH\u{1B}[4~\u{1B}[3~\u{01}\u{05}\u{0B}\u{15}\u{17}\u{12}\r".utf8))
        XCTAssertEqual(keys, [.text("ab"), .left, .right, .home, .end, .home, .end, .delete,
                              .home, .end, .killToEnd, .killToStart, .deleteWordBackward, .reverseSearch, .enter])
    }

    func testSequenceSplitAcrossReads() {
        var d = KeyDecoder()
        XCTAssertEqual(d.feed([0x1B]), [])
        XCTAssertTrue(d.hasPending)
        XCTAssertEqual(d.feed(Array("[".utf8)), [])
        XCTAssertEqual(d.feed(Array("1;5C".utf8)), [.wordRight])
        // A UTF-8 character split in the middle waits for its last byte.
        let e = Array("é".utf8)
        XCTAssertEqual(d.feed([e[0]]), [])
        XCTAssertEqual(d.feed([e[1]]), [.text("é")])
    }

    func testLoneEscapeIsFlushed() {
        var d = KeyDecoder()
        XCTAssertEqual(d.feed([0x1B]), [])
        XCTAssertEqual(d.flushPending(), [.escape])
        XCTAssertFalse(d.hasPending)
    }

    func testBracketedPasteKeepsNewlinesAndSpansReads() {
        var d = KeyDecoder()
        let text = String(repeating: "line of pasted text\r\n", count: 600)  // ~12 KB
        var bytes = Array("\u{1B}[200~".utf8) + Array(text.utf8) + Array("\u{1B}[201~x".utf8)
        var keys: [Key] = []
        // In odd-sized reads, so the end marker is split too.
        while !bytes.isEmpty {
            let n = min(777, bytes.count)
            keys += d.feed(Array(bytes.prefix(n)))
            bytes.removeFirst(n)
        }
        XCTAssertEqual(keys, [.paste(text.replacingOccurrences(of: "\r\n", with: "\n")), .text("x")])
    }

    func testAltKeysAndUnknownSequencesAreHarmless() {
        var d = KeyDecoder()
        XCTAssertEqual(d.feed(Array("\u{1B}b\u{1B}f\u{1B}[15~\u{1B}[Zq".utf8)), [.wordLeft, .wordRight, .text("q")])
    }
}

final class EditBufferTests: XCTestCase {
    func testEditing() {
        var b = EditBuffer("helo world")
        b.moveHome()
        for _ in 0..<3 { b.moveRight() }
        b.insert("l")
        XCTAssertEqual(b.text, "hello world")
        b.moveEnd()
        b.deleteWordBackward()
        XCTAssertEqual(b.text, "hello ")
        b.insert("there")
        b.moveWordLeft()
        b.killToEnd()
        XCTAssertEqual(b.text, "hello ")
        b.killToStart()
        XCTAssertEqual(b.text, "")
        b.insert("ab")
        b.transpose()
        XCTAssertEqual(b.text, "ba")
    }

    func testCursorStepsOverWholeCharacters() {
        var b = EditBuffer("a👍🏽e\u{301}")
        XCTAssertEqual(b.characters.count, 3)
        b.moveLeft()
        b.backspace()
        XCTAssertEqual(b.text, "ae\u{301}")
    }

    func testHomeAndEndStayOnTheCurrentLine() {
        var b = EditBuffer("first\nsecond")
        b.moveHome()
        XCTAssertEqual(b.cursor, 6)
        b.moveLeft()
        b.moveHome()
        XCTAssertEqual(b.cursor, 0)
        b.moveEnd()
        XCTAssertEqual(b.cursor, 5)
    }
}

final class LayoutTests: XCTestCase {
    func testWidths() {
        XCTAssertEqual(ScreenLayout.width(of: "a"), 1)
        XCTAssertEqual(ScreenLayout.width(of: "中"), 2)
        XCTAssertEqual(ScreenLayout.width(of: "e\u{301}"), 1)
        XCTAssertEqual(ScreenLayout.width(of: "👍"), 2)
        XCTAssertEqual(ScreenLayout.width(of: "\u{7}"), 2)
    }

    func testWrappingPositions() {
        let chars = Array(String(repeating: "x", count: 20))
        // "> " + 8 x's fills a row of 10; the 9th x starts row 1.
        XCTAssertEqual(ScreenLayout.position(prompt: "> ", continuation: "", characters: chars, upTo: 8, width: 10),
                       .init(row: 0, column: 10))
        XCTAssertEqual(ScreenLayout.position(prompt: "> ", continuation: "", characters: chars, upTo: 9, width: 10),
                       .init(row: 1, column: 1))
        // A wide character that does not fit moves to the next row whole.
        let wide = Array("xxxxxxx中")
        XCTAssertEqual(ScreenLayout.position(prompt: "> ", continuation: "", characters: wide, upTo: 8, width: 10),
                       .init(row: 1, column: 2))
        let lines = Array("ab\ncd")
        XCTAssertEqual(ScreenLayout.position(prompt: "> ", continuation: "... ", characters: lines, upTo: 5, width: 80),
                       .init(row: 1, column: 6))
    }

    func testRedrawReturnsToTheFirstRow() {
        var r = Renderer()
        r.width = 10
        r.styled = false
        let chars = Array(String(repeating: "y", count: 25))
        let first = r.redraw(prompt: "> ", continuation: "", characters: chars, cursor: 25)
        XCTAssertEqual(r.cursorRow, 2)
        XCTAssertTrue(first.hasPrefix("\r\u{1B}[J> yyyyyyyy\r\nyyyyyyyyyy\r\n"))
        let second = r.redraw(prompt: "> ", continuation: "", characters: chars, cursor: 0)
        XCTAssertTrue(second.hasPrefix("\r\u{1B}[2A\u{1B}[J"))
        XCTAssertTrue(second.hasSuffix("\u{1B}[2A\r\u{1B}[2C"))
        XCTAssertEqual(r.cursorRow, 0)
    }
}

final class MultilineAndHistoryTests: XCTestCase {
    func testFences() {
        XCTAssertTrue(MultilineMessage.isComplete("hello"))
        XCTAssertFalse(MultilineMessage.isComplete("\"\"\""))
        XCTAssertFalse(MultilineMessage.isComplete("\"\"\"first\nsecond"))
        XCTAssertTrue(MultilineMessage.isComplete("\"\"\"first\nsecond\"\"\""))
        XCTAssertEqual(MultilineMessage.body("\"\"\"\nfirst\nsecond\n\"\"\""), "first\nsecond")
    }

    func testHistoryPersistsMultiLineEntriesAndSearches() throws {
        let dir = NSTemporaryDirectory() + "llmrun-history-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/sub/history"
        let h = History(file: file, limit: 3)
        h.add("one")
        h.add("two\nlines")
        h.add("two\nlines")   // a repeat is kept once
        h.add("three")
        h.add("four")
        XCTAssertEqual(h.entries, ["two\nlines", "three", "four"])
        let again = History(file: file, limit: 3)
        XCTAssertEqual(again.entries, h.entries)
        XCTAssertEqual(again.search("t", before: 3), 1)
        XCTAssertEqual(again.search("t", before: 1), 0)
        XCTAssertNil(again.search("zzz", before: 3))
    }
}
