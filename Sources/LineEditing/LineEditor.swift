import Foundation

/// Reads one message from a terminal with the editing keys people expect: arrows, Home/End,
/// word moves, Ctrl-A/E/K/U/W/T, history on Up/Down, Ctrl-R search, Ctrl-L, bracketed paste of
/// any length. The terminal is in raw mode only while a line is being read, so the model's answer
/// prints in the normal mode and Ctrl-C there still raises SIGINT.
public final class LineEditor {
    public enum Result: Equatable, Sendable {
        case line(String)
        case endOfInput
        case interrupted
    }

    public let input: Int32
    public let output: Int32
    public let history: History
    /// Asked when a read is interrupted by a signal: true ends the read (SIGTERM, say).
    public var shouldStop: () -> Bool = { false }

    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO, history: History = History()) {
        self.input = input
        self.output = output
        self.history = history
    }

    private struct Search {
        var query = ""
        var match: Int?
        var saved: EditBuffer
    }

    /// Reads a message. `isComplete` decides whether Enter sends the text or breaks the line.
    public func readLine(prompt: String, continuation: String = "... ",
                         isComplete: (String) -> Bool = { _ in true }) -> Result {
        var original = termios()
        guard tcgetattr(input, &original) == 0 else { return readPlainLine(prompt: prompt) }
        var raw = original
        raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        raw.c_cflag |= tcflag_t(CS8)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(input, TCSADRAIN, &raw) == 0 else { return readPlainLine(prompt: prompt) }
        emit("\u{1B}[?2004h")  // bracketed paste: a pasted newline is text, not Enter
        defer {
            emit("\u{1B}[?2004l")
            tcsetattr(input, TCSADRAIN, &original)
        }

        var buffer = EditBuffer()
        var decoder = KeyDecoder()
        var renderer = Renderer()
        renderer.width = terminalWidth()
        var historyIndex = history.entries.count
        var draft = ""
        var search: Search?
        emit(renderer.redraw(prompt: prompt, continuation: continuation, characters: [], cursor: 0))

        var bytes = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(input, &bytes, bytes.count)
            if n < 0 {
                if errno == EINTR {
                    if shouldStop() { emit("\r\n"); return .interrupted }
                    continue
                }
                emit("\r\n")
                return .endOfInput
            }
            if n == 0 {
                emit(renderer.finish())
                return buffer.isEmpty ? .endOfInput : .line(buffer.text)
            }
            var keys = decoder.feed(Array(bytes[0..<n]))
            if decoder.hasPending && !readable(within: 30) { keys += decoder.flushPending() }

            renderer.width = terminalWidth()
            var needsRedraw = false
            var appended: [Character] = []
            for key in keys {
                if var s = search {
                    switch key {
                    case .text(let t):
                        s.query += t
                        s.match = history.search(s.query, before: history.entries.count)
                        search = s
                        needsRedraw = true
                        continue
                    case .backspace:
                        if !s.query.isEmpty { s.query.removeLast() }
                        s.match = history.search(s.query, before: history.entries.count)
                        search = s
                        needsRedraw = true
                        continue
                    case .reverseSearch:
                        if let m = s.match { s.match = history.search(s.query, before: m) ?? m }
                        search = s
                        needsRedraw = true
                        continue
                    case .cancel, .interrupt:
                        buffer = s.saved
                        search = nil
                        needsRedraw = true
                        continue
                    default:
                        // Any other key takes the match into the buffer, then acts as usual.
                        if let m = s.match { buffer.replaceAll(with: history.entries[m]); historyIndex = m }
                        search = nil
                        needsRedraw = true
                        if key == .escape { continue }
                    }
                }
                let wasAtEnd = buffer.cursorAtEnd
                switch key {
                case .text(let t), .paste(let t):
                    if wasAtEnd && !needsRedraw { appended += Array(t) } else { needsRedraw = true }
                    buffer.insert(t)
                case .newline:
                    if wasAtEnd && !needsRedraw { appended.append("\n") } else { needsRedraw = true }
                    buffer.insert("\n")
                case .enter:
                    if isComplete(buffer.text) {
                        if needsRedraw || !appended.isEmpty {
                            emit(renderer.redraw(prompt: prompt, continuation: continuation,
                                                 characters: buffer.characters, cursor: buffer.cursor))
                        }
                        emit(renderer.finish())
                        history.add(buffer.text)
                        return .line(buffer.text)
                    }
                    if wasAtEnd && !needsRedraw { appended.append("\n") } else { needsRedraw = true }
                    buffer.insert("\n")
                case .interrupt:
                    emit(renderer.redraw(prompt: prompt, continuation: continuation,
                                         characters: buffer.characters, cursor: buffer.cursor))
                    emit("^C" + renderer.finish())
                    return .interrupted
                case .endOfInput:
                    if buffer.isEmpty {
                        emit(renderer.finish())
                        return .endOfInput
                    }
                    buffer.deleteForward(); needsRedraw = true
                case .backspace: buffer.backspace(); needsRedraw = true
                case .delete: buffer.deleteForward(); needsRedraw = true
                case .left: buffer.moveLeft(); needsRedraw = true
                case .right: buffer.moveRight(); needsRedraw = true
                case .home: buffer.moveHome(); needsRedraw = true
                case .end: buffer.moveEnd(); needsRedraw = true
                case .wordLeft: buffer.moveWordLeft(); needsRedraw = true
                case .wordRight: buffer.moveWordRight(); needsRedraw = true
                case .killToEnd: buffer.killToEnd(); needsRedraw = true
                case .killToStart: buffer.killToStart(); needsRedraw = true
                case .deleteWordBackward: buffer.deleteWordBackward(); needsRedraw = true
                case .transpose: buffer.transpose(); needsRedraw = true
                case .up, .down:
                    needsRedraw = true
                    if moveWithinMessage(&buffer, up: key == .up) { break }
                    if key == .up, historyIndex > 0 {
                        if historyIndex == history.entries.count { draft = buffer.text }
                        historyIndex -= 1
                        buffer.replaceAll(with: history.entries[historyIndex])
                    } else if key == .down, historyIndex < history.entries.count {
                        historyIndex += 1
                        buffer.replaceAll(with: historyIndex == history.entries.count ? draft : history.entries[historyIndex])
                    }
                case .clearScreen:
                    emit("\u{1B}[H\u{1B}[2J")
                    renderer.reset()
                    needsRedraw = true
                case .reverseSearch:
                    search = Search(saved: buffer)
                    needsRedraw = true
                case .cancel, .escape:
                    break
                }
            }
            if let s = search {
                let shown = s.match.map { history.entries[$0] } ?? ""
                let label = s.match == nil && !s.query.isEmpty ? "(failed reverse-i-search)" : "(reverse-i-search)"
                let chars = Array(shown)
                emit(renderer.redraw(prompt: "\(label)`\(s.query)': ", continuation: continuation,
                                     characters: chars, cursor: chars.count))
            } else if needsRedraw {
                emit(renderer.redraw(prompt: prompt, continuation: continuation,
                                     characters: buffer.characters, cursor: buffer.cursor))
            } else if !appended.isEmpty {
                emit(renderer.append(appended, continuation: continuation))
            }
        }
    }

    /// Up and Down move between the lines of a multi-line message before they reach the history.
    private func moveWithinMessage(_ buffer: inout EditBuffer, up: Bool) -> Bool {
        let chars = buffer.characters
        var lineStart = buffer.cursor
        while lineStart > 0 && chars[lineStart - 1] != "\n" { lineStart -= 1 }
        let column = buffer.cursor - lineStart
        var target: Int
        if up {
            guard lineStart > 0 else { return false }
            var previousStart = lineStart - 1
            while previousStart > 0 && chars[previousStart - 1] != "\n" { previousStart -= 1 }
            target = min(previousStart + column, lineStart - 1)
        } else {
            var lineEnd = buffer.cursor
            while lineEnd < chars.count && chars[lineEnd] != "\n" { lineEnd += 1 }
            guard lineEnd < chars.count else { return false }
            var nextEnd = lineEnd + 1
            while nextEnd < chars.count && chars[nextEnd] != "\n" { nextEnd += 1 }
            target = min(lineEnd + 1 + column, nextEnd)
        }
        while buffer.cursor > target { buffer.moveLeft() }
        while buffer.cursor < target { buffer.moveRight() }
        return true
    }

    /// Not a terminal after all: a plain line from read(2).
    private func readPlainLine(prompt: String) -> Result {
        emit(prompt)
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(input, &byte, 1)
            if n < 0 {
                if errno == EINTR { if shouldStop() { return .interrupted }; continue }
                return .endOfInput
            }
            if n == 0 { return line.isEmpty ? .endOfInput : .line(String(decoding: line, as: UTF8.self)) }
            if byte == UInt8(ascii: "\n") { return .line(String(decoding: line, as: UTF8.self)) }
            line.append(byte)
        }
    }

    private func readable(within milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    private func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(output, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if ioctl(input, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    /// Writes to the terminal; a terminal that went away is noticed by the next read.
    private func emit(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(output, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
