import Foundation
import XCTest
import TestSupport

final class CLIEndToEndTests: XCTestCase {
    func testInfoOnDefaultModel() throws {
        _ = try CLI.requireDefaultModel()
        let r = try CLI.run(["info"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for expected in ["llama", "layers                30", "embedding length      576", "feed-forward length   1536",
                         "attention heads       9", "KV heads              3", "base 100000", "49152 tokens (gpt2, pre-tokenizer smollm)",
                         "chat template         chatml", "134,515,008"] {
            XCTAssertTrue(r.stdout.contains(expected), "info should show \(expected):\n\(r.stdout)")
        }
        let json = try CLI.run(["info", "--json", "-c", "512"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["parameters"] as? Int, 134_515_008)
        XCTAssertEqual((object?["layers"] as? [String: Any])?["count"] as? Int, 30)
    }

    func testGreedyGenerationMatchesLlamaCpp() throws {
        _ = try CLI.requireDefaultModel()
        let r = try CLI.run(["generate", "-p", "The capital of France is", "-n", "32", "--temp", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // llama.cpp's greedy continuation (Tests/Reference/greedy-llamacpp.txt).
        XCTAssertTrue(r.stdout.hasPrefix("The capital of France is Paris.\n\nThe United States has a population of approximately 3"), r.stdout)
        let json = try CLI.run(["generate", "-p", "Once upon a time", "-n", "8", "--temp", "0", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["generated_tokens"] as? Int, 8)
        XCTAssertNotNil(object?["generation_tokens_per_second"])
        XCTAssertNil(object?["prompt"], "--json echoes the prompt only with --json-prompt")
    }

    func testSameSeedSameOutput() throws {
        _ = try CLI.requireDefaultModel()
        let args = ["generate", "-p", "My favourite food is", "-n", "16", "-s", "1234", "--temp", "1.0", "--no-display-prompt"]
        let a = try CLI.run(args), b = try CLI.run(args)
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        let c = try CLI.run(["generate", "-p", "My favourite food is", "-n", "16", "-s", "99", "--temp", "1.0", "--no-display-prompt"])
        XCTAssertNotEqual(a.stdout, c.stdout)
    }

    func testPipedChatAnswersAndExits() throws {
        _ = try CLI.requireDefaultModel()
        // Greedy, SmolLM2-135M answers this phrasing correctly (llama.cpp gives the same text).
        let r = try CLI.run(["chat", "--temp", "0", "-n", "48"], stdin: "what is the capital of france?\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("The capital of France is Paris."), r.stdout)
        XCTAssertFalse(r.stdout.contains("<|im_end|>"))
        // With the default sampler it still answers, ends, and exits 0.
        let sampled = try CLI.run(["chat", "-s", "4", "-n", "48"], stdin: "What is the capital of France?\n")
        XCTAssertEqual(sampled.status, 0, sampled.stderr)
        XCTAssertFalse(sampled.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    func testBadInputsGiveDistinctExitCodes() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let missing = try CLI.run(["info", "-m", dir.file("nope.gguf")])
        XCTAssertEqual(missing.status, 66, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("no such file"))

        let html = dir.file("page.gguf")
        FileManager.default.createFile(atPath: html, contents: Data("<!DOCTYPE html><html>404</html>".utf8))
        let h = try CLI.run(["info", "-m", html])
        XCTAssertEqual(h.status, 65)
        XCTAssertTrue(h.stderr.contains("HTML"), h.stderr)

        let usage = try CLI.run(["generate", "--top-p", "7", "-p", "x"])
        XCTAssertEqual(usage.status, 64, usage.stderr)
        let template = try CLI.run(["chat", "--chat-template", "nonsense", "-p", "hi"])
        XCTAssertEqual(template.status, 64, template.stderr)
        let noPrompt = try CLI.run(["generate", "-p", ""], stdin: "")
        XCTAssertNotEqual(noPrompt.status, 0)
    }

    func testTruncatedModelIsRefused() throws {
        let model = try CLI.requireDefaultModel()
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let cut = dir.file("cut.gguf")
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: model))
        FileManager.default.createFile(atPath: cut, contents: handle.readData(ofLength: 50_000_000))
        try handle.close()
        let r = try CLI.run(["generate", "-m", cut, "-p", "hi", "-n", "1"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("truncated") || r.stderr.contains("data"), r.stderr)
    }

    func testPromptLongerThanContext() throws {
        _ = try CLI.requireDefaultModel()
        let r = try CLI.run(["generate", "-c", "16", "-p", String(repeating: "word ", count: 100), "-n", "4"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("context"), r.stderr)
        XCTAssertEqual(r.stdout, "", "a refused prompt is not echoed")
    }

    /// --stop ends generation at a stop string, which is not printed, in streamed and JSON output.
    func testStopStringEndsGeneration() throws {
        _ = try CLI.requireDefaultModel()
        let args = ["generate", "-p", "Q: What is 2+2?\\nA:", "-e", "-n", "48", "--temp", "0", "--no-display-prompt"]
        let free = try CLI.run(args)
        XCTAssertEqual(free.status, 0, free.stderr)
        let newline = try XCTUnwrap(free.stdout.dropFirst().firstIndex(of: "\n"), "greedy SmolLM2 answers on several lines: \(free.stdout)")
        let firstLine = String(free.stdout[..<newline])
        let stopped = try CLI.run(args + ["--stop", "\\n"])
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        XCTAssertEqual(stopped.stdout, firstLine + "\n", "the text before the stop, then the closing newline")
        XCTAssertTrue(stopped.stderr.contains("stop: stop"), stopped.stderr)
        let json = try CLI.run(args + ["--stop", "\\n", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["text"] as? String, firstLine)
        XCTAssertEqual(object?["stop_reason"] as? String, "stop")
        XCTAssertEqual(object?["stop_string"] as? String, "\n")
    }

    func testTokenizeMatchesReference() throws {
        _ = try CLI.requireDefaultModel()
        let r = try CLI.run(["tokenize", "-p", "Hello world", "--ids"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "[19556, 905]")
    }

    func testTokenizeReadsOnlyTheVocabulary() throws {
        // A vocabulary-only GGUF has no weights: tokenize must not need them (llama-tokenize's
        // vocab_only). Qwen's vocabulary has an ordinary "</s>" token that llama.cpp makes a control
        // token by its text; these ids are llama-tokenize's.
        let vocab = Fixtures.fetched + "/vocab/ggml-vocab-qwen2.gguf"
        let r = try CLI.run(["tokenize", "-m", vocab, "-p", "a</s>b", "--ids"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "[64, 128247, 65]")
        let plain = try CLI.run(["tokenize", "-m", vocab, "-p", "a</s>b", "--ids", "--no-parse-special"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertFalse(plain.stdout.contains("128247"), plain.stdout)
    }

    func testEscapeFlagReplacesBackslashSequences() throws {
        // -e as llama.cpp's tools: a typed \n becomes a newline; without -e it stays two characters.
        _ = try CLI.requireDefaultModel()
        let escaped = try CLI.run(["tokenize", "-p", #"a\nb"#, "-e", "--ids"])
        let newline = try CLI.run(["tokenize", "-p", "a\nb", "--ids"])
        let literal = try CLI.run(["tokenize", "-p", #"a\nb"#, "--ids"])
        XCTAssertEqual(escaped.status, 0, escaped.stderr)
        XCTAssertEqual(escaped.stdout, newline.stdout)
        XCTAssertNotEqual(literal.stdout, newline.stdout)
        let generated = try CLI.run(["generate", "-p", #"Q: 2+2?\nA:"#, "-e", "-n", "1", "--temp", "0", "--json", "--json-prompt"])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        XCTAssertTrue(generated.stdout.contains("Q: 2+2?\\nA:"), generated.stdout)  // JSON writes the newline as \n
    }

    func testTokenizeKeepsAByteOrderMark() throws {
        // llama.cpp tokenizes a file's leading BOM (EF BB BF); dropping it would shift every id.
        _ = try CLI.requireDefaultModel()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llmrun-bom-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bom.txt")
        try Data([0xEF, 0xBB, 0xBF] + Array("Hello".utf8)).write(to: file)
        let r = try CLI.run(["tokenize", "-f", file.path, "--ids"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "[186, 136, 140, 19556]")
    }

    func testHelpTeaches() throws {
        let r = try CLI.run(["prune", "--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("--budget"))
        XCTAssertTrue(r.stdout.contains("Exit 75"))
    }
}
