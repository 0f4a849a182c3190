import Foundation
import Synchronization

/// Set by SIGINT; long loops poll it so Ctrl-C stops work cleanly instead of killing the process.
let interruptRequested = Atomic<Bool>(false)

enum Terminal {
    static var stdinIsTTY: Bool { isatty(STDIN_FILENO) == 1 }
    static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }

    /// Routes SIGINT to `interruptRequested`. Without SA_RESTART, a blocking read returns
    /// early so an interactive prompt can notice the interrupt.
    static func catchInterrupts() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            interruptRequested.store(true, ordering: .relaxed)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
    }

    /// Takes (and clears) a pending interrupt.
    static func takeInterrupt() -> Bool { interruptRequested.exchange(false, ordering: .relaxed) }
    static var interrupted: Bool { interruptRequested.load(ordering: .relaxed) }

    enum LineInput { case line(String), endOfInput, interrupted }

    /// Reads one line from standard input with read(2), so an interrupt (EINTR, since SIGINT is
    /// caught without SA_RESTART) is told apart from Ctrl-D.
    static func readLine() -> LineInput {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(STDIN_FILENO, &byte, 1)
            if n < 0 {
                if errno == EINTR {
                    if takeInterrupt() { return .interrupted }
                    continue
                }
                return .endOfInput
            }
            if n == 0 { return bytes.isEmpty ? .endOfInput : .line(String(decoding: bytes, as: UTF8.self)) }
            if byte == UInt8(ascii: "\n") { return .line(String(decoding: bytes, as: UTF8.self)) }
            bytes.append(byte)
        }
    }

    static func write(_ s: String) {
        FileHandle.standardOutput.write(Data(s.utf8))
    }

    static func status(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }

    /// Reads all of standard input as UTF-8, refusing invalid bytes with a clear error.
    static func readAllInput(what: String) throws -> String {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard let text = decodeUTF8(data) else {
            throw CLIError.usage("\(what) on standard input is not valid UTF-8")
        }
        return text
    }

    /// Reads a whole file as UTF-8.
    static func readTextFile(_ path: String, what: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError.missingInput("\(path): no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError.io("\(path): cannot read") }
        guard let text = decodeUTF8(data) else {
            throw CLIError.usage("\(path): \(what) is not valid UTF-8 text")
        }
        return text
    }

    /// Strict UTF-8 that keeps every byte, a leading byte-order mark included: Foundation's
    /// `String(data:encoding:)` drops a BOM, and llama.cpp tokenizes it (ids differ otherwise).
    static func decodeUTF8(_ data: Data) -> String? {
        String(validating: data, as: UTF8.self)
    }
}

/// Prints a value as JSON on stdout: pretty and key-sorted for a person, one line for JSONL.
/// Keys are snake_case in every command's output (Swift's camelCase properties are converted;
/// the keys of dictionaries, such as tensor type names, are data and stay as they are).
func printJSON<T: Encodable>(_ value: T, pretty: Bool = true) throws {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
struct ProgressBar {
    let label: String
    let total: Int
    private let enabled = Terminal.stderrIsTTY
    private var lastDrawn = -1

    init(label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    mutating func update(_ done: Int, detail: String = "") {
        guard enabled else { return }
        let percent = min(100, done * 100 / total)
        guard percent != lastDrawn || !detail.isEmpty else { return }
        lastDrawn = percent
        let width = 30
        let filled = width * percent / 100
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) \(bar) \(percent)% \(detail)".utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
