import XCTest
import Foundation
@testable import LineEditing

/// The editor on a real pseudo-terminal: raw mode, keys as a terminal sends them, a long paste.
final class PseudoTerminalTests: XCTestCase {
    final class Box: @unchecked Sendable { var result: LineEditor.Result? }

    private func run(_ inputs: [String], history: History = History(),
                     isComplete: @escaping @Sendable (String) -> Bool = { _ in true }) throws -> (LineEditor.Result?, String) {
        var masterFD: Int32 = -1, slave: Int32 = -1
        var size = winsize(ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&masterFD, &slave, nil, nil, &size) == 0 else { throw XCTSkip("no pseudo-terminals here") }
        defer { close(masterFD); close(slave) }
        nonisolated(unsafe) let editor = LineEditor(input: slave, output: slave, history: history)
        let master = masterFD
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.result = editor.readLine(prompt: "> ", isComplete: isComplete)
            done.signal()
        }.start()
        // Drain what the editor draws so it never blocks on a full terminal buffer.
        let screen = Box2()
        let reader = Thread {
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(master, &buf, buf.count)
                if n <= 0 { break }
                screen.append(buf[0..<n])
            }
        }
        reader.start()
        for chunk in inputs {
            usleep(30_000)
            var bytes = Array(chunk.utf8)
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(master, $0.baseAddress! + off, min(1024, $0.count - off)) }
                if n <= 0 { break }
                off += n
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "the editor did not return")
        return (box.result, screen.text)
    }

    final class Box2: @unchecked Sendable {
        private var data: [UInt8] = []
        private let lock = NSLock()
        func append(_ s: ArraySlice<UInt8>) { lock.lock(); data += s; lock.unlock() }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
    }

    func testEditingKeysOnATerminal() throws {
        // "helo", Left, "l", End, " wrld", Ctrl-A, Right×…: fix the typo in the second word.
        let (result, screen) = try run(["helo", "\u{1B}[D", "l", "\u{1B}[F", " wrld",
                                        "\u{1B}[D\u{1B}[D\u{1B}[D", "o", "\r"])
        XCTAssertEqual(result, .line("hello world"))
        XCTAssertFalse(screen.contains("^[["), "arrow keys were echoed instead of acted on")
    }

    func testTenKilobytePasteArrivesWhole() throws {
        let paste = (0..<200).map { "line \($0): the quick brown fox jumps over the lazy dog" }.joined(separator: "\n")
        XCTAssertGreaterThan(paste.utf8.count, 10_000)
        let (result, _) = try run(["\u{1B}[200~" + paste + "\u{1B}[201~", "\r"])
        XCTAssertEqual(result, .line(paste))
    }

    func testHistoryAndReverseSearch() throws {
        let history = History()
        history.add("what is the capital of France?")
        history.add("tell me a joke")
        let (up, _) = try run(["\u{1B}[A", "\u{1B}[A", "\r"], history: history)
        XCTAssertEqual(up, .line("what is the capital of France?"))
        let (found, _) = try run(["\u{12}", "joke", "\r"], history: history)
        XCTAssertEqual(found, .line("tell me a joke"))
    }

    func testFencedMultiLineMessage() throws {
        let (result, _) = try run(["\"\"\"", "\r", "first line", "\r", "second\"\"\"", "\r"],
                                  isComplete: MultilineMessage.isComplete)
        XCTAssertEqual(result, .line("\"\"\"\nfirst line\nsecond\"\"\""))
        XCTAssertEqual(MultilineMessage.body("\"\"\"\nfirst line\nsecond\"\"\""), "first line\nsecond")
    }

    func testCtrlCAndCtrlD() throws {
        let (c, _) = try run(["abc", "\u{03}"])
        XCTAssertEqual(c, .interrupted)
        let (d, _) = try run(["\u{04}"])
        XCTAssertEqual(d, .endOfInput)
    }
}
