import Foundation
import XCTest
import LLMRuntime
import TestSupport

/// Unattended operation (issue 22, the command-line side): closed and failing descriptors,
/// signals, outputs that are the inputs, numbers in options, and path checks before work. Each
/// case is a probe that once crashed (exit 132), lost data or output, or misreported.
final class CLIRobustnessTests: XCTestCase {
    private var dir: TemporaryDirectory!
    private var model = ""

    override func setUpWithError() throws {
        dir = TemporaryDirectory("llmrun-robust")
        var t = TinyModel()
        t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 128), count: 4)
        model = try t.write(to: dir.file("tiny.gguf"))
    }

    override func tearDown() { dir.cleanup() }

    private func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    private func calibration() throws -> String {
        let calib = dir.file("calib.txt")
        try (0..<80).map { "line \($0) of some calibration text that goes on for a while \($0 * 3)" }.joined(separator: "\n")
            .write(toFile: calib, atomically: true, encoding: .utf8)
        return calib
    }

    private func pruneArguments(_ source: String, _ output: String) throws -> [String] {
        ["prune", "-m", source, "--ratio", "0.2", "-o", output, "--calib", try calibration(), "--calib-samples", "4", "--seq-len", "32"]
    }

    // MARK: Data loss

    /// `prune -m link.gguf -o src.gguf` replaced the source it read. Files are compared by device
    /// and inode: a symbolic link, a hard link, or another spelling is refused with 64 before any
    /// work, in prune, quantize and quantize --fit, and for --plan-out too.
    func testAnOutputThatIsTheSourceIsRefusedWhateverItsSpelling() throws {
        let original = try XCTUnwrap(bytes(model))
        let link = dir.file("link.gguf"), hard = dir.file("hard.gguf"), out = dir.file("out.gguf")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "tiny.gguf")
        XCTAssertEqual(hardLink(model, hard), 0)
        let spelled = dir.path + "/./tiny.gguf"
        let cases: [[String]] = [
            try pruneArguments(link, model),
            try pruneArguments(model, link),
            try pruneArguments(model, hard),
            try pruneArguments(hard, spelled),
            try pruneArguments(model, out) + ["--plan-out", link],
            try pruneArguments(model, out) + ["--plan-out", dir.path + "/../" + URL(fileURLWithPath: dir.path).lastPathComponent + "/out.gguf"],
            try pruneArguments(model, out) + ["--plan-out", dir.file("calib.txt")],
            ["quantize", "-m", link, "-o", model, "--type", "q8_0"],
            ["quantize", "-m", model, "-o", hard, "--type", "q4_0"],
            ["quantize", "-m", link, "-o", model, "--type", "q4_0", "--fit"],
        ]
        for arguments in cases {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 64, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("choose another") || r.stderr.contains("the same file"), r.stderr)
            XCTAssertFalse(r.stderr.contains("pruning"), "refused only after work began: \(r.stderr)")
            XCTAssertEqual(bytes(model), original, "\(arguments) changed the source")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(arguments) wrote an output")
        }
    }

    // MARK: Partial publish

    /// --plan-out where no file can be created exited 73 only after the model was published.
    /// Now every path is tried before the work, and nothing appears.
    func testAPlanThatCannotBeWrittenPublishesNoModel() throws {
        let out = dir.file("out.gguf")
        let r = try CLI.run(try pruneArguments(model, out) + ["--plan-out", "/proc/llmrun-plan.json"])
        XCTAssertEqual(r.status, 73, r.stderr)
        XCTAssertTrue(r.stderr.contains("--plan-out"), r.stderr)
        XCTAssertFalse(r.stderr.contains("pruning"), "refused only after work began: \(r.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), ["tiny.gguf", "calib.txt"])
    }

    /// All outputs or none when a write fails mid-run: the plan is staged before the model is
    /// written; under a file-size limit the model's write fails (EFBIG, an error rather than
    /// SIGXFSZ), and neither file nor any temporary remains.
    func testAFailedModelWriteLeavesNoPlan() throws {
        let full = dir.file("full.gguf")
        let ok = try CLI.run(try pruneArguments(model, full))
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: full)[.size] as? Int)
        try FileManager.default.removeItem(atPath: full)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        // Room for the plan and the spilled blocks, not for the whole model (sh counts 512-byte blocks).
        let limit = (size - 12_000) / 512
        let out = dir.file("out.gguf"), plan = dir.file("plan.json")
        let r = try CLI.run(try pruneArguments(model, out) + ["--plan-out", plan],
                            shell: "ulimit -f \(limit) && exec \"$0\" \"$@\"")
        XCTAssertEqual(r.status, 73, r.stderr)
        XCTAssertTrue(r.stderr.contains("too large"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: plan))
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), before)
    }

    // MARK: Descriptors

    /// Foundation's trapping FileHandle calls made these exit 132. Standard output that cannot
    /// be written is 74 with a message; a closed standard error never stops the work; a closed
    /// standard input is no input.
    func testClosedAndFullDescriptors() throws {
        let generate = ["generate", "-m", model, "-p", "the", "-n", "4", "--temp", "0"]
        var r = try CLI.run(generate, shell: "exec \"$0\" \"$@\" >&-")
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("standard output"), r.stderr)
        r = try CLI.run(generate, shell: "exec \"$0\" \"$@\" >/dev/full")
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("No space left"), r.stderr)
        r = try CLI.run(generate, shell: "exec \"$0\" \"$@\" 2>&-")
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.hasPrefix("the"), r.stdout)
        r = try CLI.run(generate, shell: "exec \"$0\" \"$@\" 2>/dev/full")
        XCTAssertEqual(r.status, 0)
        r = try CLI.run(["generate", "-m", model, "-n", "1"], shell: "exec \"$0\" \"$@\" <&-")
        XCTAssertEqual(r.status, 64, r.stderr)
        r = try CLI.run(["chat", "-m", model, "-n", "4"], shell: "exec \"$0\" \"$@\" <&-")
        XCTAssertEqual(r.status, 64, r.stderr)
        r = try CLI.run(["info", "-m", dir.file("nonexistent.gguf")], shell: "exec \"$0\" \"$@\" 2>&-")
        XCTAssertEqual(r.status, 66)
        let out = dir.file("out.gguf")
        r = try CLI.run(try pruneArguments(model, out), shell: "exec \"$0\" \"$@\" 2>&-")
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
        // With every descriptor closed, the output file must not become "standard error".
        try FileManager.default.removeItem(atPath: out)
        r = try CLI.run(try pruneArguments(model, out), shell: "exec \"$0\" \"$@\" <&- >&- 2>&-")
        XCTAssertEqual(r.status, 74)
        let check = try CLI.run(["info", "-m", out])
        XCTAssertEqual(check.status, 0, check.stderr)
    }

    /// These printed through stdio, which lost the output into /dev/full and exited 0.
    func testEveryPrintingCommandReportsAFullDisk() throws {
        let commands: [[String]] = [
            ["info", "-m", model],
            ["info", "-m", model, "--json"],
            ["tokenize", "-m", model, "-p", "the cat"],
            ["tokenize", "-m", model, "-p", "the cat", "--json"],
            ["generate", "-m", model, "-p", "the", "-n", "4", "--temp", "0", "--json"],
            ["chat", "-m", model, "-p", "hi", "-n", "4", "--temp", "0", "--json"],
            ["--help"],
        ]
        for arguments in commands {
            let r = try CLI.run(arguments, shell: "exec \"$0\" \"$@\" >/dev/full")
            XCTAssertEqual(r.status, 74, "\(arguments): \(r.stderr)")
        }
    }

    /// A reader that went away is EPIPE (SIGPIPE is ignored): exit 74, and the generation stops.
    func testAClosedPipeStopsTheRun() throws {
        guard let binary = CLI.binary else { throw XCTSkip("not built") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["generate", "-m", model, "-p", "the", "-n", "-1", "--ignore-eos", "--temp", "0"]
        let out = Pipe(), err = Pipe()
        try out.fileHandleForReading.close()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        try out.fileHandleForWriting.close()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, text)
        XCTAssertEqual(p.terminationStatus, 74, text)
        XCTAssertTrue(text.contains("Broken pipe"), text)
    }

    // MARK: Numbers in options

    /// NaN passed every range check (`--temp nan` exit 0; `--allocation-exponent nan` pruned
    /// 10.5% instead of 20%). Every Float or Double option refuses non-finite values.
    func testNonFiniteNumbersAreRefusedInEveryOption() throws {
        let sampling = ["--temp", "--top-p", "--min-p", "--repeat-penalty"]
        for option in sampling {
            for value in ["nan", "inf", "-inf"] {
                let r = try CLI.run(["generate", "-m", model, "-p", "the", "-n", "2", option, value])
                XCTAssertEqual(r.status, 64, "\(option) \(value): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains("finite"), r.stderr)
            }
        }
        let chat = try CLI.run(["chat", "-m", model, "-p", "hi", "-n", "2", "--temp", "nan"])
        XCTAssertEqual(chat.status, 64, chat.stderr)
        let out = dir.file("out.gguf")
        for option in ["--allocation-exponent", "--layer-share", "--attention-share", "--drift-share", "--ridge", "--ratio"] {
            var arguments = try pruneArguments(model, out)
            if option == "--ratio" { arguments[arguments.firstIndex(of: "0.2")!] = "nan" } else { arguments += [option, "nan"] }
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 64, "\(option): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }

    /// `-n -1` (documented: until the model stops) and `-s -5` failed with "Missing value".
    func testNegativeNumbersParse() throws {
        var r = try CLI.run(["generate", "-m", model, "-p", "the", "-n", "-1", "-c", "32", "--temp", "0", "--ignore-eos"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("context_full"), r.stderr)
        r = try CLI.run(["chat", "-m", model, "-p", "hi", "-n", "-1", "-c", "64", "--temp", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try CLI.run(["generate", "-m", model, "-p", "the", "-n", "2", "-s", "-1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try CLI.run(["generate", "-m", model, "-p", "the", "-n", "2", "-s", "-5"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertFalse(r.stderr.contains("Missing value"), r.stderr)
        XCTAssertTrue(r.stderr.contains("seed"), r.stderr)
        r = try CLI.run(["generate", "-m", model, "-p", "the", "-n", "-2"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("-n must be -1 or more"), r.stderr)
        r = try CLI.run(["generate", "-m", model, "-p", "the", "-n", "2", "--temp", "-1"])
        XCTAssertTrue(r.stderr.contains("--temp must be >= 0"), r.stderr)
    }

    /// A SentencePiece model for a BPE vocabulary was silently ignored.
    func testATokenizerModelThatCannotApplyIsRefused() throws {
        let garbage = dir.file("garbage.txt")
        try "not a tokenizer".write(toFile: garbage, atomically: true, encoding: .utf8)
        for command in [["generate", "-p", "the", "-n", "2"], ["tokenize", "-p", "the"]] {
            let r = try CLI.run(command + ["-m", model, "--tokenizer", garbage])
            XCTAssertEqual(r.status, 65, r.stderr)
            XCTAssertTrue(r.stderr.contains("SentencePiece"), r.stderr)
        }
        let device = try CLI.run(["tokenize", "-m", model, "-p", "the", "--tokenizer", "/dev/null"])
        XCTAssertEqual(device.status, 66, device.stderr)
    }

    /// `-f /dev/null` was 74 and an empty file 64; `eval mc` on an empty file "scored" 0 items.
    func testEmptyInputsGetOneAnswer() throws {
        let empty = dir.file("empty.txt")
        FileManager.default.createFile(atPath: empty, contents: Data())
        let a = try CLI.run(["generate", "-m", model, "-f", "/dev/null"])
        let b = try CLI.run(["generate", "-m", model, "-f", empty])
        XCTAssertEqual(a.status, 64, a.stderr)
        XCTAssertEqual(a.status, b.status)
        XCTAssertEqual(a.stderr, b.stderr)
        let mc = try CLI.run(["eval", "mc", "-m", model, "-f", empty])
        XCTAssertEqual(mc.status, 65, mc.stderr)
        XCTAssertTrue(mc.stderr.contains("no items"), mc.stderr)
        let directory = try CLI.run(["generate", "-m", model, "-f", dir.path])
        XCTAssertEqual(directory.status, 66, directory.stderr)
        // A pipe is a text stream too (`-f <(command)`).
        let piped = try CLI.run(["tokenize", "-m", model, "-f", "/dev/stdin", "--ids"], stdin: "the")
        XCTAssertEqual(piped.status, 0, piped.stderr)
    }

    // MARK: Checks before work

    /// `-o /proc/x.gguf` failed only after the whole prune; --dry-run checked neither --calib
    /// nor -o. Every path is checked first, in prune and quantize.
    func testPathsAreCheckedBeforeAnyWork() throws {
        // A FIFO stands for any device: renaming over /dev/null as root would replace it.
        let fifo = dir.file("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let cases: [([String], Int32)] = [
            (try pruneArguments(model, "/proc/x.gguf"), 73),
            (try pruneArguments(model, dir.path), 73),
            (try pruneArguments(model, fifo), 73),
            (try pruneArguments(model, dir.file("missing/x.gguf")), 73),
            (try pruneArguments(model, dir.file(String(repeating: "x", count: 300))), 73),
            (try pruneArguments(model, model) + ["--dry-run"], 64),
            (["prune", "-m", model, "--ratio", "0.2", "--calib", dir.file("none.txt"), "--dry-run"], 66),
            (["prune", "-m", model, "--ratio", "0.2", "--calib", dir.path, "-o", dir.file("o.gguf")], 66),
            (["quantize", "-m", model, "-o", "/proc/x.gguf"], 73),
            (["quantize", "-m", model, "-o", dir.file("q.gguf"), "--type", "q4_0", "--fit", "--calib", dir.file("none.txt")], 66),
        ]
        for (arguments, code) in cases {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, code, "\(arguments): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("pruning") || r.stderr.contains("fitting"), "refused only after work began: \(r.stderr)")
        }
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), ["tiny.gguf", "calib.txt", "fifo"])
    }

    // MARK: Signals

    /// Starts llmrun, sends `signal` once `ready` holds for what it printed (or after `wait`
    /// seconds), and returns how it ended. A run still going 60 s later is killed.
    private func runSignalled(_ arguments: [String], signal: Int32, wait: Double,
                              ready: ((String) -> Bool)? = nil, keepStdinOpen: Bool = false) throws -> (Process, String, String) {
        guard let binary = CLI.binary else { throw XCTSkip("not built") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if !keepStdinOpen { try input.fileHandleForWriting.close() }
        let outBox = DataBox(), errBox = DataBox()
        let lock = NSLock()
        let group = DispatchGroup()
        for (handle, box) in [(out.fileHandleForReading, outBox), (err.fileHandleForReading, errBox)] {
            group.enter()
            DispatchQueue.global().async {
                while let chunk = try? handle.read(upToCount: 4096), !chunk.isEmpty {
                    lock.lock(); box.data.append(chunk); lock.unlock()
                }
                group.leave()
            }
        }
        let start = Date()
        while Date().timeIntervalSince(start) < wait {
            Thread.sleep(forTimeInterval: 0.1)
            lock.lock(); let text = String(decoding: outBox.data, as: UTF8.self); lock.unlock()
            if let ready, ready(text) { break }
        }
        kill(p.processIdentifier, signal)
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        group.wait()
        p.waitUntilExit()
        watchdog.cancel()
        try? input.fileHandleForWriting.close()
        return (p, String(decoding: outBox.data, as: UTF8.self), String(decoding: errBox.data, as: UTF8.self))
    }

    /// SIGTERM (systemd's stop) killed the process, losing --json's object. It now stops as
    /// SIGINT does: the text so far is printed, --json prints its object with stop_reason
    /// "interrupted", and the exit code is 143 (130 for SIGINT).
    func testSIGTERMStopsGenerationCleanly() throws {
        let smol = try CLI.requireDefaultModel()
        let long = ["generate", "-m", smol, "-p", "Once upon a time", "-n", "-1", "--ignore-eos", "-c", "2048", "--temp", "0"]
        var (p, out, err) = try runSignalled(long, signal: SIGTERM, wait: 20, ready: { $0.count > 24 })
        XCTAssertEqual(p.terminationReason, .exit, err)
        XCTAssertEqual(p.terminationStatus, 143, err)
        XCTAssertTrue(out.hasPrefix("Once upon a time"), out)
        XCTAssertTrue(err.contains("stop: interrupted"), err)
        XCTAssertTrue(err.contains("SIGTERM"), err)
        for (signal, code) in [(SIGTERM, Int32(143)), (SIGINT, Int32(130))] {
            (p, out, err) = try runSignalled(long + ["--json"], signal: signal, wait: 3)
            XCTAssertEqual(p.terminationReason, .exit, err)
            XCTAssertEqual(p.terminationStatus, code, err)
            let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
            XCTAssertEqual(object?["stop_reason"] as? String, "interrupted", out)
        }
    }

    /// bench and a chat waiting on a pipe died silently on SIGINT.
    func testBenchAndAWaitingChatSayTheyWereInterrupted() throws {
        let smol = try CLI.requireDefaultModel()
        var (p, out, err) = try runSignalled(["bench", "-m", smol, "-p", "0", "-n", "2000", "-r", "1"], signal: SIGINT, wait: 3)
        XCTAssertEqual(p.terminationReason, .exit, err)
        XCTAssertEqual(p.terminationStatus, 130, err)
        XCTAssertTrue(err.contains("interrupted"), err)
        XCTAssertTrue(out.contains("| model |"), out)
        (p, out, err) = try runSignalled(["chat", "-m", model, "-n", "4"], signal: SIGINT, wait: 1.5, keepStdinOpen: true)
        XCTAssertEqual(p.terminationReason, .exit, err)
        XCTAssertEqual(p.terminationStatus, 130, err)
        XCTAssertTrue(err.contains("interrupted"), err)
        (p, out, err) = try runSignalled(["generate", "-m", model, "-n", "4"], signal: SIGTERM, wait: 1.5, keepStdinOpen: true)
        XCTAssertEqual(p.terminationStatus, 143, err)
    }

    /// SIGTERM during a prune: 143, nothing at the output path, the source intact.
    func testSIGTERMDuringPruneLeavesNothing() throws {
        let smol = try CLI.requireDefaultModel()
        let before = try FileManager.default.attributesOfItem(atPath: smol)[.modificationDate] as? Date
        let out = dir.file("out.gguf"), plan = dir.file("plan.json")
        let (p, _, err) = try runSignalled(["prune", "-m", smol, "--ratio", "0.2", "-o", out, "--plan-out", plan, "--calib-samples", "4"],
                                           signal: SIGTERM, wait: 3)
        XCTAssertEqual(p.terminationReason, .exit, err)
        XCTAssertEqual(p.terminationStatus, 143, err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: plan))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: smol)[.modificationDate] as? Date, before)
    }
}

/// link(2), to make a hard link (FileManager's linkItem copies across some file systems).
private func hardLink(_ from: String, _ to: String) -> Int32 { link(from, to) }
