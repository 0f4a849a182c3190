import Foundation
import XCTest
import GGUF
import TestSupport

/// Bad model data, sizes and special files through the built binary (issue 22, model-data
/// half): documented exit codes, never a signal, never a hang, and the key or tensor named.
final class CLIModelDataTests: XCTestCase {
    private var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory("cli-model-data") }
    override func tearDown() { dir.cleanup() }

    private func write(_ tiny: TinyModel, _ name: String) throws -> String {
        try tiny.write(to: dir.file(name))
    }

    private func tiny(_ overrides: [String: GGUFValue] = [:]) -> TinyModel {
        var t = TinyModel()
        t.metadataOverrides = overrides
        return t
    }

    /// Runs llmrun and checks its exit code (a signal shows up as a status the test names).
    @discardableResult
    private func expect(_ status: Int32, _ args: [String], stderrHas words: [String] = [], timeout: Double = 120,
                        file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let r = try CLI.run(args, timeout: timeout)
        XCTAssertEqual(r.status, status, "llmrun \(args.joined(separator: " ")): stderr \(r.stderr)", file: file, line: line)
        for w in words {
            XCTAssertTrue(r.stderr.contains(w), "stderr of llmrun \(args.joined(separator: " ")) should mention \"\(w)\": \(r.stderr)", file: file, line: line)
        }
        return r
    }

    // MARK: Floating-point hyper-parameters

    /// NaN, ±Inf and 1e19 rope bases trapped in `info` (converting to Int) and made `info --json`
    /// exit 1; 0, -1, NaN and Inf generated garbage with exit 0. Now: 65, naming the key, and
    /// `info` still prints the header it read.
    func testBadRopeBaseAndEpsilonExit65EverywhereNamingTheKey() throws {
        let cases: [(String, Float)] = [
            ("llama.rope.freq_base", .nan), ("llama.rope.freq_base", .infinity), ("llama.rope.freq_base", -.infinity),
            ("llama.rope.freq_base", 9.3e18), ("llama.rope.freq_base", 0), ("llama.rope.freq_base", -1),
            ("llama.attention.layer_norm_rms_epsilon", .nan), ("llama.attention.layer_norm_rms_epsilon", -1),
        ]
        for (i, (key, value)) in cases.enumerated() {
            let path = try write(tiny([key: .float32(value)]), "f\(i).gguf")
            let info = try expect(65, ["info", "-m", path], stderrHas: [key])
            XCTAssertTrue(info.stdout.contains("architecture") && info.stdout.contains("tensors"), info.stdout)
            let json = try expect(65, ["info", "--json", "-m", path], stderrHas: [key])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            XCTAssertTrue((object?["error"] as? String)?.contains(key) == true, json.stdout)
            try expect(65, ["generate", "-m", path, "-p", "hello", "-n", "2", "--temp", "0"], stderrHas: [key])
        }
    }

    /// The issue's offsets in the real SmolLM2 file (724: rope.freq_base, 778: RMS epsilon,
    /// 522: context length, 1769544: token_embd's rows), patched in a copy under /tmp.
    func testPatchedRealModelAtTheIssuesOffsets() throws {
        let model = try CLI.requireDefaultModel()
        let original = try Data(contentsOf: URL(fileURLWithPath: model), options: .alwaysMapped)
        let path = dir.file("patched.gguf")
        let cases: [(offset: Int, bytes: [UInt8], words: [String])] = [
            (724, [0x00, 0x00, 0xC0, 0x7F], ["llama.rope.freq_base"]),            // NaN
            (724, [0x00, 0x00, 0x80, 0x7F], ["llama.rope.freq_base"]),            // +Inf
            (778, [0x00, 0x00, 0xC0, 0x7F], ["layer_norm_rms_epsilon"]),          // NaN
            (522, [0x00, 0x00, 0x00, 0x00], ["llama.context_length"]),            // 0
            (1769544, [0xFF, 0xBF, 0x00, 0x00], ["token_embd.weight", "49151"]),  // 49,151 rows
            (1769544, [0xE8, 0x03, 0x00, 0x00], ["token_embd.weight", "1000"]),   // 1,000 rows
        ]
        for c in cases {
            var copy = original
            copy.replaceSubrange(c.offset..<(c.offset + c.bytes.count), with: c.bytes)
            try copy.write(to: URL(fileURLWithPath: path))
            try expect(65, ["info", "-m", path], stderrHas: c.words)
            try expect(65, ["generate", "-m", path, "-p", "hi", "-n", "2", "--temp", "0"], stderrHas: c.words)
        }
    }

    // MARK: Sizes

    /// -c 2147483647 aborted in allocation (134), -c 9223372036854775807 crashed (SIGSEGV), bench
    /// -d 9223372036854775807 trapped, info -c 9223372036854775807 printed a negative KV cache,
    /// and prune --budget at that -c said the model already fits. Now: 64 with the figures.
    func testHugeContextsAreRefusedWithTheFigures() throws {
        let path = try write(TinyModel(), "tiny.gguf")
        try expect(64, ["generate", "-m", path, "-p", "hi", "-n", "1", "-c", "2147483647"],
                   stderrHas: ["2147483647", "KV cache", "memory this machine has"])
        try expect(64, ["generate", "-m", path, "-p", "hi", "-n", "1", "-c", "9223372036854775807"], stderrHas: ["9223372036854775807"])
        try expect(64, ["chat", "-m", path, "-n", "1", "-c", "9223372036854775807", "-p", "hi"], stderrHas: ["9223372036854775807"])
        try expect(64, ["eval", "ppl", "-m", path, "-f", try textFile(), "-c", "2147483647"], stderrHas: [])
        try expect(64, ["bench", "-m", path, "-p", "0", "-n", "1", "-r", "1", "-d", "9223372036854775807"])
        try expect(64, ["bench", "-m", path, "-p", "9223372036854775807", "-n", "9223372036854775807", "-r", "1"])
        let info = try expect(64, ["info", "-m", path, "-c", "9223372036854775807"], stderrHas: ["9223372036854775807"])
        XCTAssertFalse(info.stdout.contains("KV cache -"), "no negative figure: \(info.stdout)")
        let big = try expect(0, ["info", "-m", path, "-c", "2147483647"])
        // 2^31 positions x 2 layers x 32 KV values x 2 (K and V) x 2 bytes: 549.8 GB.
        XCTAssertTrue(big.stdout.contains("KV cache 549.8 GB") && big.stdout.contains("is refused"), big.stdout)
        try expect(64, ["prune", "-m", path, "--budget", "150MB", "-c", "9223372036854775807", "--dry-run"],
                   stderrHas: ["9223372036854775807"])
    }

    private func textFile() throws -> String {
        let p = dir.file("text.txt")
        try String(repeating: "the cat sat on the mat. ", count: 50).write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    /// A -c past the trained context runs, with a warning on stderr.
    func testContextPastTheTrainedOneIsWarnedAbout() throws {
        var t = TinyModel()
        t.contextLength = 64
        let path = try write(t, "short.gguf")
        let r = try expect(0, ["generate", "-m", path, "-p", "hi", "-n", "2", "--temp", "0", "-c", "128"])
        XCTAssertTrue(r.stderr.contains("warning") && r.stderr.contains("64"), r.stderr)
        let quiet = try expect(0, ["generate", "-m", path, "-p", "hi", "-n", "2", "--temp", "0", "-c", "64"])
        XCTAssertFalse(quiet.stderr.contains("warning"), quiet.stderr)
    }

    // MARK: Special files

    /// `info -m FIFO` blocked in open() forever. Now every input that is not a regular file is
    /// refused before it is opened (66); a symlink to a model still works.
    func testFIFOsDevicesAndDirectoriesAreRefusedWithoutBlocking() throws {
        let fifo = dir.file("model.fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let model = try write(TinyModel(), "tiny.gguf")
        for path in [fifo, "/dev/zero", dir.path] {
            try expect(66, ["info", "-m", path], stderrHas: ["not a regular file"], timeout: 20)
            try expect(66, ["generate", "-m", path, "-p", "hi", "-n", "1"], stderrHas: ["not a regular file"], timeout: 20)
            try expect(66, ["tokenize", "-m", path, "-p", "hi"], stderrHas: ["not a regular file"], timeout: 20)
            try expect(66, ["generate", "-m", model, "-p", "hi", "-n", "1", "--prune-plan", path],
                       stderrHas: ["not a regular file"], timeout: 20)
        }
        let link = dir.file("link.gguf")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: model)
        try expect(0, ["info", "-m", link])
    }

    // MARK: Vocabulary and embedding

    /// With one embedding row fewer than tokens, some prompts ran (0) and others failed (64).
    /// Now every prompt gets 65 at load; the same for a bad BOS id and a vocabulary that cannot
    /// tokenize (its prompts were all "empty").
    func testVocabularyMismatchesExit65ForEveryPrompt() throws {
        let vocab = TinyModel().vocabulary.count
        var short = tiny()
        short.shapeOverrides = ["token_embd.weight": [64, vocab - 1]]
        let shortPath = try write(short, "short-embd.gguf")
        for prompt in ["a", "the", "<|im_end|>"] {
            try expect(65, ["generate", "-m", shortPath, "-p", prompt, "-n", "1"], stderrHas: ["token_embd.weight", "\(vocab - 1) rows"])
        }
        try expect(65, ["info", "-m", shortPath], stderrHas: ["token_embd.weight"])
        let bos = try write(tiny(["tokenizer.ggml.bos_token_id": .uint32(UInt32(vocab + 10))]), "bos.gguf")
        try expect(65, ["generate", "-m", bos, "-p", "hi", "-n", "1"], stderrHas: ["tokenizer.ggml.bos_token_id"])
        try expect(65, ["tokenize", "-m", bos, "-p", "hi"], stderrHas: ["tokenizer.ggml.bos_token_id"])
        let same = try write(tiny(["tokenizer.ggml.tokens": .array(.string, Array(repeating: .string("a"), count: vocab))]), "same.gguf")
        try expect(65, ["generate", "-m", same, "-p", "hello", "-n", "1"], stderrHas: ["tokenizer.ggml.tokens", "could not be tokenized"])
        try expect(65, ["info", "-m", same], stderrHas: ["tokenizer.ggml.tokens"])
        let ctx0 = try write(tiny(["llama.context_length": .uint32(0)]), "ctx0.gguf")
        try expect(65, ["generate", "-m", ctx0, "-p", "hi", "-n", "1"], stderrHas: ["llama.context_length"])
        try expect(65, ["chat", "-m", ctx0, "-p", "hi", "-n", "1"], stderrHas: ["llama.context_length"])
    }

    // MARK: info as strict as generate

    /// `info` accepted files `generate` refused. Now both exit 65 naming the problem, and
    /// `info` prints what it could read first.
    func testInfoRefusesWhatGenerateRefuses() throws {
        var files: [(TinyModel, String)] = []
        var t = tiny(); t.omittedTensors = ["blk.1.attn_v.weight"]; files.append((t, "blk.1.attn_v.weight"))
        t = tiny(); t.omittedTensors = ["output_norm.weight"]; files.append((t, "output_norm.weight"))
        t = tiny(); t.shapeOverrides = ["blk.0.attn_q.weight": [64, 0]]; files.append((t, "blk.0.attn_q.weight"))
        t = tiny(); t.shapeOverrides = ["blk.1.ffn_down.weight": [64, 128]]; files.append((t, "blk.1.ffn_down.weight"))
        t = tiny(); t.shapeOverrides = ["output_norm.weight": [65]]; files.append((t, "output_norm.weight"))
        files.append((tiny(["llama.block_count": .uint32(3)]), "blk.2."))
        t = tiny(); t.omittedMetadata = ["general.architecture"]; files.append((t, "general.architecture"))
        for (i, (model, word)) in files.enumerated() {
            let path = try write(model, "broken\(i).gguf")
            let info = try expect(65, ["info", "-m", path], stderrHas: [word])
            XCTAssertTrue(info.stdout.hasPrefix("file"), info.stdout)
            try expect(65, ["info", "--json", "-m", path], stderrHas: [word])
            try expect(65, ["generate", "-m", path, "-p", "hi", "-n", "1"], stderrHas: [word])
        }
        let help = try expect(0, ["info", "--help"])
        XCTAssertTrue(help.stdout.contains("exits 65"), help.stdout)
    }

    // MARK: Truncation

    /// A tiny model cut at offsets through its header and tensor data: always 65.
    func testTruncatedTinyModelExits65AtAnyOffset() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: try write(TinyModel(), "whole.gguf")))
        let cut = dir.file("cut.gguf")
        let offsets = [1, 7, 24, 100, 1000, 4000] + stride(from: 6000, to: whole.count, by: whole.count / 12) + [whole.count - 1]
        for size in offsets {
            try whole.prefix(size).write(to: URL(fileURLWithPath: cut))
            try expect(65, ["info", "-m", cut])
            try expect(65, ["generate", "-m", cut, "-p", "hi", "-n", "1"])
        }
    }
}
