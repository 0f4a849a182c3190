import Foundation
import XCTest
import GGUF
import LLMRuntime
import TestSupport

final class ForwardPassTests: XCTestCase {
    /// Our logits against the plain f32 reference on a tiny random model. Activations are
    /// quantized to 8 bits in our mat-muls, so agreement is close but not exact.
    private func compareWithReference(_ tiny: TinyModel, file name: String, tolerance: Float = 0.03) throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = try tiny.write(to: dir.file(name))
        let model = try LanguageModel(path: path, threads: 2)
        let tokens: [Int32] = [5, 77, 200, 31, 9, 140, 260, 3]
        let reference = ReferenceForward(config: model.config, file: model.file).logits(tokens)

        // Batched prefill with logits for every position.
        let session = try GenerationSession(model: model, contextLength: 64, batchSize: 8, logitRows: 8)
        tokens.withUnsafeBufferPointer {
            model.transformer.forward($0, start: 0, cache: session.cache, state: session.state, logits: .all)
        }
        let vocab = model.config.vocabularySize
        for t in tokens.indices {
            let ours = Array(UnsafeBufferPointer(start: session.state.logits + t * vocab, count: vocab))
            assertClose(ours, reference[t], "position \(t)", tolerance: tolerance)
        }

        // Token-by-token decode through the cache gives the same last logits.
        let stepwise = try GenerationSession(model: model, contextLength: 64)
        for t in tokens { try stepwise.feed(t) }
        assertClose(Array(UnsafeBufferPointer(start: stepwise.logits, count: vocab)), reference.last!, "decode",
                    tolerance: tolerance)
    }

    private func assertClose(_ a: [Float], _ b: [Float], _ what: String, tolerance: Float = 0.03,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count)
        let scale = b.map(abs).max() ?? 1
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst / scale, tolerance, "\(what): max |diff| \(worst) vs scale \(scale)", file: file, line: line)
        // And the ranking of the top token agrees.
        XCTAssertEqual(a.indices.max { a[$0] < a[$1] }, b.indices.max { b[$0] < b[$1] }, "\(what): argmax", file: file, line: line)
    }

    func testQ8_0TinyModelMatchesReference() throws {
        try compareWithReference(TinyModel(), file: "q8.gguf")
    }

    func testQ4_0AndQ4_1TinyModelsMatchReference() throws {
        var a = TinyModel(); a.matrixType = .q4_0
        try compareWithReference(a, file: "q40.gguf")
        var b = TinyModel(); b.matrixType = .q4_1; b.tiedOutput = false
        try compareWithReference(b, file: "q41.gguf")
    }

    /// IQ4_NL runs in the x8 layout through its own kernels (the tied output too).
    func testIQ4_NLTinyModelMatchesReference() throws {
        var t = TinyModel(); t.matrixType = .iq4_nl; t.embeddingType = .iq4_nl
        try compareWithReference(t, file: "iq4nl.gguf")
    }

    /// Q5_0 (K-quant files' fallback for rows that are not whole super-blocks) and Q5_1 (what
    /// Q5_K runs as) run natively in the x8 layout too, embedding and output included.
    func testQ5TinyModelsMatchReference() throws {
        var t = TinyModel(); t.matrixType = .q5_0; t.embeddingType = .q5_0
        try compareWithReference(t, file: "q50.gguf")
        var u = TinyModel(); u.matrixType = .q5_1; u.tiedOutput = false  // Q5_K's kernel format
        try compareWithReference(u, file: "q51.gguf")
    }

    func testConvertedFormatsAndPerLayerShapes() throws {
        // F16 and F32 matrices are converted to Q8_0 at load; layers of different widths, as in
        // a pruned model, with per-layer metadata arrays.
        var t = TinyModel()
        t.matrixType = .f16
        t.embeddingType = .f32
        t.layers = [LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 96),
                    LayerShape(headCount: 2, kvHeadCount: 1, feedForwardLength: 160),
                    LayerShape(headCount: 4, kvHeadCount: 4, feedForwardLength: 32)]
        t.perLayerArrays = true
        try compareWithReference(t, file: "mixed.gguf")
    }

    /// Float matrices whose rows are not whole 32-value blocks (MLP widths 100, 72 and 33, and
    /// 3 heads of 16 feeding a 48-wide attention output) run padded with zero columns.
    func testFloatMatricesOfOddWidths() throws {
        var t = TinyModel()
        t.matrixType = .f16
        t.embeddingType = .f16
        t.tiedOutput = false
        t.layers = [LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 100),
                    LayerShape(headCount: 3, kvHeadCount: 1, feedForwardLength: 72),
                    LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 33)]
        t.perLayerArrays = true
        try compareWithReference(t, file: "odd-f16.gguf")
        t.matrixType = .f32
        try compareWithReference(t, file: "odd-f32.gguf")
    }

    /// The layout of an LLM-Pruner export converted by llama.cpp's convert script: llama
    /// architecture, `feed_forward_length` as a per-layer array of arbitrary widths (959 as in
    /// the SmolLM2 export of issue 26), F16 matrices, no biases.
    func testPrunedFileOfAnotherToolsLayout() throws {
        var t = TinyModel()
        t.matrixType = .f16
        t.embeddingType = .f16
        t.layers = [LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 959),
                    LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 1536),
                    LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 517)]
        t.perLayerArrays = true
        try compareWithReference(t, file: "llm-pruner.gguf")
    }

    func testOutputBiasesOfPrunedModels() throws {
        var t = TinyModel()
        t.mlpBias = true
        t.outputBiases = true
        try compareWithReference(t, file: "bias.gguf")
    }

    func testNeoxRoPEOfQwen2() throws {
        var t = TinyModel()
        t.architecture = "qwen2"
        try compareWithReference(t, file: "qwen2.gguf")
    }

    func testGemma3() throws {
        // Scaled embeddings, q/k norms, post-norms, GeGLU, NeoX RoPE with base 1e6 on global
        // layers and 1e4 on local ones, and a 3-position sliding window on layers 0 and 2 of 4
        // (8 tokens, so the window cuts).
        let t = TinyModel.gemma3()
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let config = try ModelConfig(file: GGUFFile(path: try t.write(to: dir.file("g.gguf"))))
        XCTAssertEqual(config.slidingWindowLayers, [true, false, true, false])
        XCTAssertEqual(config.ropeStyle, .neox)
        // Its post-norms keep every sub-layer's share small, so a wrong RoPE base on the local
        // layers moves the logits by only 0.5-0.9% (measured); agreement here is within 0.45%.
        try compareWithReference(t, file: "gemma3.gguf", tolerance: 0.0065)
    }

    func testPromptLongerThanContextIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let model = try LanguageModel(path: try TinyModel().write(to: dir.file("m.gguf")), threads: 1)
        let session = try GenerationSession(model: model, contextLength: 16)
        XCTAssertThrowsError(try session.prefill([Int32](repeating: 1, count: 17))) { error in
            XCTAssertTrue("\(error)".contains("context"), "\(error)")
        }
        XCTAssertThrowsError(try session.prefill([100_000]))
    }

    func testMissingTensorIsNamed() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var t = TinyModel()
        // Claims a wider MLP than its tensors have.
        t.layers[1].feedForwardLength = 128
        let path = dir.file("bad.gguf")
        try t.write(to: path)
        let file = try GGUFFile(path: path)
        var meta = file.metadata
        if let i = meta.firstIndex(where: { $0.key == "llama.feed_forward_length" }) {
            meta[i].value = .array(.int32, [.int32(128), .int32(256)])
        }
        let bad = dir.file("bad2.gguf")
        let w = try GGUFWriter(path: bad, metadata: meta, tensors: file.tensors.map { GGUFTensorDescriptor(name: $0.name, shape: $0.shape, type: $0.type) })
        for tensor in file.tensors { try w.writeTensor(named: tensor.name, bytes: file.data(for: tensor)) }
        try w.finish()
        XCTAssertThrowsError(try LanguageModel(path: bad, threads: 1)) { error in
            XCTAssertTrue("\(error)".contains("blk.1.ffn_gate.weight"), "\(error)")
            XCTAssertTrue("\(error)".contains("expected 64 x 256"), "\(error)")
        }
    }
}
