import Foundation
import XCTest
import GGUF
import LLMRuntime
import TestSupport

/// Model files with bad values, sizes or vocabularies are refused at load with an error naming
/// the key or tensor (issue 22), and `ModelWeights.validate` (what `llmrun info` runs) refuses
/// the same files as a load.
final class ModelValidationTests: XCTestCase {
    private var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory("model-validation") }
    override func tearDown() { dir.cleanup() }

    /// Writes `tiny`, then expects both the header checks (config, tensors, vocabulary) and a
    /// full load to refuse it with a message holding every word of `words`.
    private func expectRefused(_ tiny: TinyModel, _ words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try tiny.write(to: dir.file("bad-\(UUID().uuidString.prefix(6)).gguf"))
        var headerError: Error?
        do {
            let f = try GGUFFile(path: path)
            let config = try ModelConfig(file: f)
            try LanguageModel.validate(file: f, config: config)
        } catch { headerError = error }
        var loadError: Error?
        do { _ = try LanguageModel(path: path, threads: 1) } catch { loadError = error }
        guard let headerError, let loadError else {
            return XCTFail("accepted: header \(headerError.map { "\($0)" } ?? "ok"), load \(loadError.map { "\($0)" } ?? "ok")", file: file, line: line)
        }
        XCTAssertEqual("\(headerError)", "\(loadError)", "the header checks and the load disagree", file: file, line: line)
        for w in words {
            XCTAssertTrue("\(loadError)".contains(w), "\"\(loadError)\" should mention \"\(w)\"", file: file, line: line)
        }
    }

    private func tiny(_ overrides: [String: GGUFValue] = [:]) -> TinyModel {
        var t = TinyModel()
        t.metadataOverrides = overrides
        return t
    }

    func testBaselineLoads() throws {
        let path = try TinyModel().write(to: dir.file("ok.gguf"))
        XCTAssertNoThrow(try LanguageModel(path: path, threads: 1))
    }

    // MARK: Floating-point hyper-parameters

    func testNonFiniteOrAbsurdRopeBaseIsRefused() throws {
        for v: Float in [.nan, .infinity, -.infinity, 1e19, 0, -1, 1] {
            try expectRefused(tiny(["llama.rope.freq_base": .float32(v)]), ["llama.rope.freq_base"])
        }
    }

    func testBadEpsilonIsRefused() throws {
        for v: Float in [.nan, -1, 0, .infinity, 2] {
            try expectRefused(tiny(["llama.attention.layer_norm_rms_epsilon": .float32(v)]), ["llama.attention.layer_norm_rms_epsilon"])
        }
    }

    func testBadRopeScalingAndSoftcapAreRefused() throws {
        for v: Float in [.nan, 0, -2, .infinity] {
            var t = tiny()
            t.extraMetadata = [("llama.rope.scaling.type", .string("linear")), ("llama.rope.scaling.factor", .float32(v))]
            try expectRefused(t, ["llama.rope.scaling.factor"])
        }
        for v: Float in [.nan, -30, .infinity] {
            var t = tiny()
            t.extraMetadata = [("llama.final_logit_softcapping", .float32(v))]
            try expectRefused(t, ["llama.final_logit_softcapping"])
        }
    }

    func testGemmaSlidingWindowBaseIsChecked() throws {
        var t = TinyModel.gemma3()
        t.extraMetadata = [("gemma3.rope.freq_base_swa", .float32(.nan))]
        try expectRefused(t, ["gemma3.rope.freq_base_swa"])
    }

    /// A key this build does not read (Gemma 2's attention soft-cap, a query scale) may not be
    /// NaN either: another reader would use it.
    func testAnyNonFiniteArchitectureKeyIsRefused() throws {
        for key in ["llama.attn_logit_softcapping", "llama.attention.scale"] {
            var t = tiny()
            t.extraMetadata = [(key, .float64(.nan))]
            try expectRefused(t, [key])
        }
    }

    func testZeroContextLengthIsBadModelData() throws {
        try expectRefused(tiny(["llama.context_length": .uint32(0)]), ["llama.context_length"])
    }

    // MARK: Sizes

    func testContextSizesCannotOverflow() throws {
        let path = try TinyModel().write(to: dir.file("ok.gguf"))
        let model = try LanguageModel(path: path, threads: 1)
        XCTAssertEqual(MemoryEstimate.kvCacheBytes(config: model.config, context: Int.max), Int.max)
        XCTAssertGreaterThan(MemoryEstimate.kvCacheBytes(config: model.config, context: Int(Int32.max)), 0)
        XCTAssertGreaterThan(RunState.byteCount(config: model.config, maxBatch: 256, contextLength: Int.max, threads: 8, logitRows: 1), 0)
        for context in [Int.max, Int(Int32.max) + 1, 0, -1] {
            XCTAssertThrowsError(try MemoryEstimate.checkContext(context), "\(context)")
        }
        // 2^31 positions of a 2-layer, 2x16-wide KV cache: 550 GB, refused with the figures.
        for context in [Int(Int32.max), Int.max] {
            XCTAssertThrowsError(try GenerationSession(model: model, contextLength: context)) { error in
                guard case ModelError.invalidRequest(let message) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("\(context)"), message)
            }
        }
        XCTAssertThrowsError(try GenerationSession(model: model, contextLength: Int(Int32.max))) { error in
            XCTAssertTrue("\(error)".contains("KV cache") && "\(error)".contains("memory this machine has"), "\(error)")
        }
        XCTAssertThrowsError(try F16KVCache(layers: model.config.layers, headDim: model.config.headDim, capacity: Int.max / 4))
        XCTAssertNoThrow(try GenerationSession(model: model, contextLength: 64))
    }

    // MARK: Files that are not regular files

    func testFIFODirectoryAndDeviceAreRefusedWithoutBlocking() throws {
        let fifo = dir.file("model.fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for path in [fifo, dir.path, "/dev/null", "/dev/zero"] {
            XCTAssertThrowsError(try GGUFFile(path: path), path) { error in
                guard case GGUFError.notARegularFile = error else { return XCTFail("\(path): \(error)") }
            }
        }
        let real = try TinyModel().write(to: dir.file("real.gguf"))
        let link = dir.file("link.gguf")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        XCTAssertNoThrow(try GGUFFile(path: link))
        XCTAssertThrowsError(try RegularFile.check(dir.file("missing"))) { error in
            guard case GGUFError.fileNotFound = error else { return XCTFail("\(error)") }
        }
    }

    // MARK: Vocabulary and embedding

    func testEmbeddingRowsMustMatchTheVocabulary() throws {
        let vocab = TinyModel().vocabulary.count
        for rows in [vocab - 1, vocab + 1, 100] {
            var t = tiny()
            t.shapeOverrides = ["token_embd.weight": [64, rows]]
            try expectRefused(t, ["token_embd.weight", "\(rows) rows", "\(vocab) tokens"])
        }
        var untied = tiny()
        untied.tiedOutput = false
        untied.shapeOverrides = ["output.weight": [64, vocab - 1]]
        try expectRefused(untied, ["output.weight"])
        var declared = tiny()
        declared.extraMetadata = [("llama.vocab_size", .uint32(UInt32(vocab + 5)))]
        try expectRefused(declared, ["llama.vocab_size"])
    }

    func testSpecialTokenIdsMustBeInRange() throws {
        let vocab = TinyModel().vocabulary.count
        for key in ["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"] {
            try expectRefused(tiny([key: .uint32(UInt32(vocab))]), [key, "\(vocab) tokens"])
        }
        var pad = tiny()
        pad.extraMetadata = [("tokenizer.ggml.padding_token_id", .int32(-1))]
        try expectRefused(pad, ["tokenizer.ggml.padding_token_id"])
    }

    /// A vocabulary of one repeated string, or of U+FFFD (what invalid UTF-8 reads as), has no
    /// token for most bytes: every prompt came out empty. Refused, naming the key.
    func testVocabularyThatCannotTokenizeIsRefused() throws {
        let n = TinyModel().vocabulary.count
        for text in ["a", "\u{FFFD}"] {
            try expectRefused(tiny(["tokenizer.ggml.tokens": .array(.string, Array(repeating: .string(text), count: n))]),
                              ["tokenizer.ggml.tokens", "could not be tokenized"])
        }
    }

    /// The same file with the strings' bytes made invalid UTF-8 in place (0xFF 0xFF 0xFF).
    func testInvalidUTF8VocabularyIsRefused() throws {
        let n = TinyModel().vocabulary.count
        let path = try tiny(["tokenizer.ggml.tokens": .array(.string, Array(repeating: .string("\u{FFFD}"), count: n))])
            .write(to: dir.file("replacement.gguf"))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var patched = 0
        for i in 0..<(bytes.count - 2) where bytes[i] == 0xEF && bytes[i + 1] == 0xBF && bytes[i + 2] == 0xBD {
            bytes[i] = 0xFF; bytes[i + 1] = 0xFF; bytes[i + 2] = 0xFF
            patched += 1
        }
        XCTAssertEqual(patched, n)
        let invalid = dir.file("invalid-utf8.gguf")
        try Data(bytes).write(to: URL(fileURLWithPath: invalid))
        XCTAssertThrowsError(try LanguageModel(path: invalid, threads: 1)) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.ggml.tokens"), "\(error)")
        }
    }

    // MARK: Structure (what `info` let through)

    func testStructuralDamageIsRefusedByTheHeaderChecksToo() throws {
        var missing = tiny(); missing.omittedTensors = ["blk.1.attn_k.weight"]
        try expectRefused(missing, ["blk.1.attn_k.weight", "missing"])
        var zero = tiny(); zero.shapeOverrides = ["blk.0.ffn_up.weight": [64, 0]]
        try expectRefused(zero, ["blk.0.ffn_up.weight"])
        var down = tiny(); down.shapeOverrides = ["blk.1.ffn_down.weight": [64, 128]]
        try expectRefused(down, ["blk.1.ffn_down.weight", "128 x 64"])
        var norm = tiny(); norm.shapeOverrides = ["output_norm.weight": [32]]
        try expectRefused(norm, ["output_norm.weight"])
        try expectRefused(tiny(["llama.block_count": .uint32(3)]), ["blk.2."])
        var noArch = tiny(); noArch.omittedMetadata = ["general.architecture"]
        try expectRefused(noArch, ["general.architecture"])
        try expectRefused(tiny(["llama.embedding_length": .uint32(0)]), ["llama.embedding_length"])
    }

    // MARK: Truncation

    /// Any prefix of a model, through its tensor data to the last byte, is refused with a typed
    /// error (GGUF, model or tokenizer), never a crash.
    func testTruncationAtAnyOffsetIsRefused() throws {
        let path = try TinyModel().write(to: dir.file("whole.gguf"))
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = dir.file("cut.gguf")
        var offsets = Array(stride(from: 0, to: whole.count, by: max(1, whole.count / 400)))
        offsets += [whole.count - 1, whole.count - 32, whole.count / 2 + 1]
        for size in offsets {
            try whole.prefix(size).write(to: URL(fileURLWithPath: cut))
            XCTAssertThrowsError(try LanguageModel(path: cut, threads: 1), "a \(size)-byte prefix of \(whole.count) loaded") { error in
                XCTAssertTrue(error is GGUFError || error is ModelError || "\(type(of: error))" == "TokenizerError", "\(size): \(error)")
            }
        }
    }
}
