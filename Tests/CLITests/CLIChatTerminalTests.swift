import Foundation
import XCTest
import TestSupport

/// `llmrun chat` on a pseudo-terminal, typed at as a person would: editing keys, a long paste,
/// slash commands, and the transcript it saves.
final class CLIChatTerminalTests: XCTestCase {
    final class Screen: @unchecked Sendable {
        private var bytes: [UInt8] = []
        private let lock = NSLock()
        func append(_ s: ArraySlice<UInt8>) { lock.lock(); bytes += s; lock.unlock() }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: bytes, as: UTF8.self) }
    }

    /// Starts llmrun with a pseudo-terminal as its stdin, stdout and stderr.
    private func spawnOnTerminal(_ arguments: [String], environment: [String: String]) throws -> (pid: pid_t, master: Int32, screen: Screen) {
        guard let binary = CLI.binary else { throw XCTSkip("llmrun is not built") }
        var master: Int32 = -1, slave: Int32 = -1
        var size = winsize(ws_row: 40, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&master, &slave, nil, nil, &size) == 0 else { throw XCTSkip("no pseudo-terminals here") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] { posix_spawn_file_actions_adddup2(&actions, slave, fd) }
        posix_spawn_file_actions_addclose(&actions, master)
        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "LLMRUN_MODEL")
        for (k, v) in environment { env[k] = v }
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, binary, &actions, nil, argv, envp)
        close(slave)
        guard rc == 0 else { close(master); throw XCTSkip("cannot spawn llmrun: \(rc)") }
        let screen = Screen()
        let fd = master
        Thread {
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buf, buf.count)
                if n <= 0 { break }
                screen.append(buf[0..<n])
            }
        }.start()
        return (pid, master, screen)
    }

    private func type(_ text: String, into fd: Int32) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress!, min(512, $0.count)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Waits (bounded) until the screen shows `text` `count` times.
    private func waitFor(_ text: String, count: Int = 1, on screen: Screen, seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if screen.text.components(separatedBy: text).count - 1 >= count { return true }
            usleep(50_000)
        }
        return false
    }

    func testEditingPasteCommandsAndTranscript() throws {
        let dir = TemporaryDirectory("chat-tty")
        defer { dir.cleanup() }
        let model = try TinyModel().write(to: dir.file("tiny.gguf"))
        let transcript = dir.file("chat.json")
        let (pid, master, screen) = try spawnOnTerminal(
            ["chat", "-m", model, "--chat-template", "chatml", "-n", "3", "--temp", "0", "-t", "1", "-c", "16384"],
            environment: ["HOME": dir.path, "XDG_STATE_HOME": dir.path + "/state"])
        defer { close(master); kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0) }

        XCTAssertTrue(waitFor(">>> ", on: screen), "no prompt: \(screen.text)")
        // A typo fixed with the arrow keys, then Enter.
        type("helo wrld", into: master)
        type("\u{1B}[D\u{1B}[D\u{1B}[D", into: master)
        type("o", into: master)
        type("\u{1B}[H\u{1B}[C\u{1B}[C\u{1B}[C", into: master)
        type("l\r", into: master)
        XCTAssertTrue(waitFor("[…]", on: screen), "the answer cut off by -n has no marker: \(screen.text)")
        XCTAssertTrue(waitFor("(cut off at 3 tokens", on: screen))
        // A 10 KB paste, as a terminal with bracketed paste sends it.
        let paste = (0..<300).map { "pasted line \($0) with some words in it" }.joined(separator: "\n")
        XCTAssertGreaterThan(paste.utf8.count, 10_000)
        type("\u{1B}[200~" + paste + "\u{1B}[201~\r", into: master)
        XCTAssertTrue(waitFor("(cut off at 3 tokens", count: 2, on: screen, seconds: 120), String(screen.text.suffix(2000)))
        type("/set temp 0.5\r", into: master)
        XCTAssertTrue(waitFor("(temp = 0.5)", on: screen), String(screen.text.suffix(1500)))
        type("/save \(transcript)\r", into: master)
        XCTAssertTrue(waitFor("saved", on: screen))
        type("/exit\r", into: master)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(30)
        while waitpid(pid, &status, WNOHANG) == 0 && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(status, 0, screen.text)
        XCTAssertFalse(screen.text.contains("^[["), "arrow keys were echoed")

        let data = try Data(contentsOf: URL(fileURLWithPath: transcript))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let messages = object?["messages"] as? [[String: String]] ?? []
        let user = messages.filter { $0["role"] == "user" }.map { $0["content"] ?? "" }
        XCTAssertEqual(user, ["hello world", paste])
        XCTAssertEqual(messages.filter { $0["role"] == "assistant" }.count, 2)
    }

    /// `chat --json` on a terminal has no one message to answer: refused (64), not a conversation
    /// whose output no script could parse.
    func testJSONOnATerminalIsRefused() throws {
        let dir = TemporaryDirectory("chat-tty-json")
        defer { dir.cleanup() }
        let model = try TinyModel().write(to: dir.file("tiny.gguf"))
        let (pid, master, screen) = try spawnOnTerminal(["chat", "-m", model, "--chat-template", "chatml", "--json"],
                                                        environment: ["HOME": dir.path])
        defer { close(master) }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(30)
        while waitpid(pid, &status, WNOHANG) == 0 && Date() < deadline { usleep(50_000) }
        if Date() >= deadline { kill(pid, SIGKILL); waitpid(pid, &status, 0) }
        XCTAssertEqual(status >> 8 & 0xFF, 64, screen.text)
        XCTAssertTrue(screen.text.contains("--json answers one message"), screen.text)
    }
}
