import Foundation
import LLMRuntime

enum Terminal {
    static var stdinIsTTY: Bool { isatty(STDIN_FILENO) == 1 }
    static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }

    /// Signals are caught for every command from the start (`Signals.install`); kept so commands
    /// can say where their interruptible part begins.
    static func catchInterrupts() {}

    /// Takes a pending Ctrl-C (a chat carries on after it); SIGTERM stays pending.
    static func takeInterrupt() -> Bool { Signals.take() }

    /// Whether long work should stop: a signal asked for it, or standard output is gone (its
    /// output would be lost; the run exits 74).
    static var interrupted: Bool { Signals.received != 0 || StandardStreams.outputFailed }

    enum LineInput { case line(String), endOfInput, interrupted }

    /// Reads one line from standard input with read(2), so an interrupt (EINTR, since SIGINT is
    /// caught without SA_RESTART) is told apart from Ctrl-D.
    static func readLine() -> LineInput {
        // SIGTERM or a lost standard output ends a conversation as Ctrl-D does.
        if Signals.terminating || StandardStreams.outputFailed { return .endOfInput }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(STDIN_FILENO, &byte, 1)
            if n < 0 {
                if errno == EINTR {
                    if Signals.terminating { return .endOfInput }
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

    /// Standard output, unbuffered; a failure is remembered and ends the run with exit 74.
    static func write(_ s: String) { StandardStreams.out(s) }

    /// A line on standard output.
    static func writeLine(_ s: String) { StandardStreams.out(s + "\n") }

    /// A line on standard error (status, timings, warnings); failures there are ignored.
    static func status(_ s: String) { StandardStreams.err(s + "\n") }

    /// Reads all of standard input as UTF-8, refusing invalid bytes with a clear error. A closed
    /// standard input reads as empty (it was reopened on /dev/null).
    static func readAllInput(what: String) throws -> String {
        let data = try StandardStreams.readAll(STDIN_FILENO, name: "standard input")
        guard let text = decodeUTF8(data) else {
            throw CLIError.usage("\(what) on standard input is not valid UTF-8")
        }
        return text
    }

    /// Reads a whole file as UTF-8: a regular file, a pipe (`-f <(command)`) or a device like
    /// /dev/null, which reads as empty as an empty file does.
    static func readTextFile(_ path: String, what: String) throws -> String {
        var fd: Int32
        repeat {
            fd = open(path, O_RDONLY | O_CLOEXEC)  // a FIFO waits here for its writer
        } while fd < 0 && errno == EINTR && Signals.received == 0
        if fd < 0 {
            if errno == EINTR { throw CLIError.interrupted }
            if errno == ENOENT { throw CLIError.missingInput("\(path): no such file") }
            throw CLIError.missingInput("\(path): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            throw CLIError.missingInput("\(path) is a directory, not a text file")
        }
        let data = try StandardStreams.readAll(fd, name: path)
        guard let text = decodeUTF8(data) else {
            throw CLIError.usage("\(path): \(what) is not valid UTF-8 text")
        }
        return text
    }

    /// Strict UTF-8 that keeps every byte, a leading byte-order mark included: Foundation's
    /// `String(data:encoding:)` drops a BOM, and llama.cpp tokenizes it (ids differ otherwise).
    static func decodeUTF8(_ data: [UInt8]) -> String? {
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
    Terminal.writeLine(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
struct ProgressBar {
    let label: String
    let total: Int
    private let enabled = Terminal.stderrIsTTY
    private var lastDrawn = -1
    private var lastETA = ""
    private let started = Clock.now()

    init(label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    /// `done` of `total` equal steps.
    mutating func update(_ done: Int, detail: String = "") {
        update(fraction: Double(done) / Double(total), detail: detail)
    }

    /// A fraction of the work, weighted by what each part costs, so the ETA tracks time: the
    /// time left is the time so far scaled by the part still to do.
    mutating func update(fraction: Double, detail: String = "") {
        guard enabled else { return }
        let f = min(max(fraction, 0), 1)
        let percent = Int(f * 100)
        let elapsed = Clock.now() - started
        let eta = f >= 0.02 && elapsed >= 2 ? "ETA " + ProgressBar.duration(elapsed * (1 - f) / f) : ""
        guard percent != lastDrawn || !detail.isEmpty || eta != lastETA else { return }
        lastDrawn = percent
        lastETA = eta
        let width = 30
        let filled = width * percent / 100
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        StandardStreams.err("\r\u{1B}[2K\(label) \(bar) \(percent)% \(eta.isEmpty ? "" : eta + " · ")\(detail)")
    }

    /// 75 s reads "1m15s"; an hour or more "1h02m".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s / 60 % 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }

    func finish() {
        guard enabled else { return }
        StandardStreams.err("\r\u{1B}[2K")
    }
}
