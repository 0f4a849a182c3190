import Foundation
import XCTest
import CKernels
import LLMRuntime
import TestSupport

/// A sequence's logits are the same whether it runs alone or in a batch with other sequences at
/// other positions, some prefilling, some decoding, each against its own cache.
final class BatchedForwardTests: XCTestCase {
    /// One sequence of a schedule: its tokens, fed in chunks (0: sits this step out), and the
    /// step whose chunk asks for every row's logits rather than the last one's.
    struct Plan {
        var tokens: [Int32]
        var chunks: [Int]
        var allLogitsAt: Int? = nil
    }

    /// Four sequences: one prefills 6 tokens then decodes, one decodes from its first token, one
    /// prefills in two chunks (the second with every row's logits), one arrives two steps late.
    static func schedule(vocabulary: Int, seed: UInt64) -> [Plan] {
        var rng = SplitMix64(seed: seed)
        func tokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % UInt64(vocabulary)) } }
        return [Plan(tokens: tokens(10), chunks: [6, 1, 1, 1, 1]),
                Plan(tokens: tokens(6), chunks: [1, 1, 1, 1, 1, 1]),
                Plan(tokens: tokens(9), chunks: [3, 4, 1, 1], allLogitsAt: 1),
                Plan(tokens: tokens(9), chunks: [0, 0, 7, 1, 1])]
    }

    private func selection(_ plan: Plan, step: Int) -> LogitSelection { plan.allLogitsAt == step ? .all : .last }

    /// Each sequence alone: its chunks through the single-sequence forward. Logits per step.
    private func alone(_ model: LanguageModel, _ plan: Plan, context: Int) throws -> [Int: [[Float]]] {
        let t = model.transformer, vocab = model.config.vocabularySize
        let cache = try F16KVCache(layers: model.config.layers, headDim: model.config.headDim, capacity: context)
        let state = try RunState(config: model.config, maxBatch: 16, contextLength: context, threads: model.pool.threadCount,
                             logitRows: 16)
        var out: [Int: [[Float]]] = [:]
        var fed = 0
        for (step, n) in plan.chunks.enumerated() where n > 0 {
            let logits = selection(plan, step: step)
            plan.tokens.withUnsafeBufferPointer {
                t.forward(UnsafeBufferPointer(rebasing: $0[fed..<(fed + n)]), start: fed, cache: cache, state: state, logits: logits)
            }
            let rows = logits == .all ? n : 1
            out[step] = (0..<rows).map { Array(UnsafeBufferPointer(start: state.logits + $0 * vocab, count: vocab)) }
            fed += n
        }
        return out
    }

    /// All sequences together: each step one forward over every sequence with a chunk.
    private func together(_ model: LanguageModel, _ plans: [Plan], context: Int) throws -> ([[Int: [[Float]]]], Int) {
        let t = model.transformer, vocab = model.config.vocabularySize
        let caches = try plans.map { _ in try F16KVCache(layers: model.config.layers, headDim: model.config.headDim, capacity: context) }
        let state = try RunState(config: model.config, maxBatch: 32, contextLength: context, threads: model.pool.threadCount,
                             logitRows: 32)
        var out = [[Int: [[Float]]]](repeating: [:], count: plans.count)
        var fed = [Int](repeating: 0, count: plans.count)
        var widest = 0
        for step in 0..<(plans.map(\.chunks.count).max() ?? 0) {
            var segments: [BatchSegment] = [], members: [(Int, Int)] = []
            for (i, p) in plans.enumerated() where step < p.chunks.count && p.chunks[step] > 0 {
                let n = p.chunks[step]
                let logits = selection(p, step: step)
                segments.append(BatchSegment(tokens: Array(p.tokens[fed[i]..<(fed[i] + n)]), start: fed[i], cache: caches[i],
                                             logits: logits))
                members.append((i, logits == .all ? n : 1))
                fed[i] += n
            }
            widest = max(widest, segments.reduce(0) { $0 + $1.tokens.count })
            t.forward(batch: segments, state: state)
            var row = 0
            for (i, rows) in members {
                out[i][step] = (0..<rows).map { Array(UnsafeBufferPointer(start: state.logits + (row + $0) * vocab, count: vocab)) }
                row += rows
            }
        }
        return (out, widest)
    }

    /// Largest |difference| relative to the largest |logit| over every compared row.
    private func compare(_ model: LanguageModel, _ plans: [Plan], context: Int = 64) throws -> (worst: Float, widest: Int) {
        let (batched, widest) = try together(model, plans, context: context)
        var worst: Float = 0
        for (i, p) in plans.enumerated() {
            let single = try alone(model, p, context: context)
            XCTAssertEqual(Set(single.keys), Set(batched[i].keys), "sequence \(i): steps with logits")
            for (step, rows) in single {
                guard let other = batched[i][step] else { continue }
                XCTAssertEqual(rows.count, other.count, "sequence \(i) step \(step): logit rows")
                for (a, b) in zip(rows, other) {
                    let scale = a.map(abs).max() ?? 1
                    worst = max(worst, zip(a, b).map { abs($0 - $1) }.max()! / scale)
                    XCTAssertEqual(a.indices.max { a[$0] < a[$1] }, b.indices.max { b[$0] < b[$1] },
                                   "sequence \(i) step \(step): argmax")
                }
            }
        }
        return (worst, widest)
    }

    /// The bound for a model: rows are quantized to Q8_0 one by one, so batched and alone agree
    /// to rounding, unless a batch is wide enough for the f32-activation GEMM (AVX2 hosts
    /// without VNNI, non-x8 formats) while the same rows alone went through Q8_0 activations:
    /// then they differ by the activations' 8-bit rounding, as ForwardPassTests allows against
    /// the f32 reference.
    private func tolerance(widest: Int) -> Float {
        let f32Path = lr_gemm_f32a_min_batch()
        return f32Path > 0 && widest >= Int(f32Path) ? 0.03 : 1e-5
    }

    private func check(_ tiny: TinyModel, name: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let model = try LanguageModel(path: try tiny.write(to: dir.file(name)), threads: 2)
        let plans = BatchedForwardTests.schedule(vocabulary: model.config.vocabularySize, seed: 7)
        let (worst, widest) = try compare(model, plans)
        XCTAssertLessThanOrEqual(worst, tolerance(widest: widest), "\(name): batched vs alone")
    }

    func testLlamaTinyModelBatchedEqualsAlone() throws {
        try check(TinyModel(), name: "llama.gguf")
        var q4 = TinyModel(); q4.matrixType = .q4_1; q4.tiedOutput = false
        try check(q4, name: "llama-q41.gguf")
    }

    /// Gemma 3: sliding windows of 3 on every other layer, with their own RoPE base, so rows at
    /// different positions take different windows and rotations in one step.
    func testGemma3TinyModelBatchedEqualsAlone() throws {
        try check(TinyModel.gemma3(), name: "gemma3.gguf")
    }

    /// Pruned-model shapes: layers of different widths.
    func testPerLayerShapesBatchedEqualsAlone() throws {
        var t = TinyModel()
        t.layers = [LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 96),
                    LayerShape(headCount: 2, kvHeadCount: 1, feedForwardLength: 160)]
        t.mlpBias = true
        t.outputBiases = true
        try check(t, name: "shapes.gguf")
    }

    func testSmolLM2BatchedEqualsAlone() throws {
        try checkRealModel(Fixtures.defaultModel)
    }

    /// Qwen2.5-Coder-0.5B Q4_K_M: K-quant matrices (run in their own bytes by the kx8 kernels
    /// where `GGMLType.kernelHandling` says native, else re-packed), Q5_0, Q8_0.
    func testQwenKQuantBatchedEqualsAlone() throws {
        try checkRealModel(Fixtures.model("Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf"))
    }

    private func checkRealModel(_ path: String) throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "no \(path)")
        let model = try LanguageModel(path: path, threads: 2)
        let prompts = ["The capital of France is", "def fibonacci(n):\n    if n < 2:",
                       "Once upon a time, in a small village by the sea, there lived", "1, 2, 3, 4,"]
        var plans = BatchedForwardTests.schedule(vocabulary: model.config.vocabularySize, seed: 11)
        for (i, p) in prompts.enumerated() {
            // Real text (a repeated prompt where the schedule needs more tokens than it has).
            let ids = model.tokenize(p)
            plans[i].tokens = (0..<plans[i].tokens.count).map { ids[$0 % ids.count] }
        }
        let (worst, widest) = try compare(model, plans, context: 128)
        XCTAssertLessThanOrEqual(worst, tolerance(widest: widest), "\(path): batched vs alone")
    }
}
