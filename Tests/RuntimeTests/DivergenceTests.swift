import Foundation
import LLMRuntime
import TestSupport
import XCTest

/// `eval ppl --kl-base`: the KL divergence of a model's next-token distributions from a base
/// model's, against a direct computation from each position's logits.
final class DivergenceTests: XCTestCase {
    static let directory: String = TemporaryDirectory("llmrun-divergence-tests").path
    /// An output matrix of its own (the tied embedding's logits are nearly one-hot), so the
    /// next-token distributions are soft and two seeds disagree.
    static func tiny(seed: UInt64) -> TinyModel {
        var t = TinyModel()
        t.tiedOutput = false
        t.seed = seed
        return t
    }
    static let basePath: String = { try! tiny(seed: 42).write(to: directory + "/base.gguf") }()
    static let otherPath: String = { try! tiny(seed: 7).write(to: directory + "/other.gguf") }()

    let text = String(repeating: "the cat sat on the mat and then the rat ran in a hat; ", count: 6)

    /// Log-probabilities of every scored position of each chunk, one position per forward batch
    /// (another path through the batching than the evaluator's).
    private func logProbabilities(_ model: LanguageModel, chunks: [[Int32]], scored: Range<Int>) throws -> [[Double]] {
        var out: [[Double]] = []
        let vocab = model.config.vocabularySize
        for chunk in chunks {
            let session = try GenerationSession(model: model, contextLength: chunk.count, batchSize: 1, logitRows: 1)
            try session.prefill(chunk, scoring: scored) { positions, logits in
                for i in 0..<positions.count {
                    let row = (0..<vocab).map { Double(logits[i * vocab + $0]) }
                    let m = row.max()!
                    let logZ = m + log(row.reduce(0) { $0 + exp($1 - m) })
                    out.append(row.map { $0 - logZ })
                }
            }
        }
        return out
    }

    func testDivergenceMatchesDirectComputation() throws {
        let base = try LanguageModel(path: Self.basePath, threads: 2)
        let model = try LanguageModel(path: Self.otherPath, threads: 2)
        let n = 32
        let evaluator = try PerplexityEvaluator(model: model, contextLength: n, batchSize: 8, base: base)
        let tokens = evaluator.tokenize(text)
        try evaluator.checkBaseTokenizes(text, as: tokens)
        let result = try evaluator.evaluate(tokens: tokens, chunks: 3)
        let d = try XCTUnwrap(result.divergence)

        var chunks: [[Int32]] = []
        for c in 0..<3 {
            var chunk = Array(tokens[(c * n)..<((c + 1) * n)])
            if let bos = model.tokenizer.bosToken, model.tokenizer.addsBOS { chunk[0] = bos }
            chunks.append(chunk)
        }
        let scored = (n / 2)..<(n - 1)
        let p = try logProbabilities(base, chunks: chunks, scored: scored)
        let q = try logProbabilities(model, chunks: chunks, scored: scored)
        var kl: [Double] = [], same = 0, baseNLL = 0.0
        for (r, (lp, lq)) in zip(p, q).enumerated() {
            kl.append(zip(lp, lq).reduce(0) { $0 + exp($1.0) * ($1.0 - $1.1) })
            if lp.indices.max(by: { lp[$0] < lp[$1] }) == lq.indices.max(by: { lq[$0] < lq[$1] }) { same += 1 }
            let chunk = chunks[r / scored.count], position = scored.lowerBound + r % scored.count
            baseNLL -= lp[Int(chunk[position + 1])]
        }
        XCTAssertEqual(result.scoredTokens, kl.count)
        let mean = kl.reduce(0, +) / Double(kl.count)
        XCTAssertGreaterThan(mean, 0.01, "two random models should disagree")
        XCTAssertEqual(d.meanKL, mean, accuracy: 1e-4 * mean)
        XCTAssertEqual(d.maxKL, kl.max()!, accuracy: 1e-4 * kl.max()!)
        XCTAssertEqual(d.sameTopToken, Double(same) / Double(kl.count), accuracy: 1e-12)
        XCTAssertEqual(d.basePerplexity, exp(baseNLL / Double(kl.count)), accuracy: 1e-4 * d.basePerplexity)
        // The model's own perplexity is what it is without a base.
        let alone = try PerplexityEvaluator(model: model, contextLength: n, batchSize: 8).evaluate(tokens: tokens, chunks: 3)
        XCTAssertEqual(result.perplexity, alone.perplexity)
        XCTAssertNil(alone.divergence)
    }

    func testAModelHasNoDivergenceFromItself() throws {
        let model = try LanguageModel(path: Self.basePath, threads: 1)
        let evaluator = try PerplexityEvaluator(model: model, contextLength: 32, batchSize: 16, base: model)
        let d = try XCTUnwrap(try evaluator.evaluate(tokens: evaluator.tokenize(text), chunks: 2).divergence)
        XCTAssertEqual(d.meanKL, 0, accuracy: 1e-6)
        XCTAssertEqual(d.sameTopToken, 1)
    }

    func testAnotherVocabularyIsRefused() throws {
        var t = Self.tiny(seed: 42)
        t.vocabularyOverride = TinyModel.byteToUnicode() + TinyModel.merges.map { $0.replacingOccurrences(of: " ", with: "") }
            + ["extra"] + TinyModel.specials
        let small = try LanguageModel(path: try t.write(to: Self.directory + "/small.gguf"), threads: 1)
        let model = try LanguageModel(path: Self.basePath, threads: 1)
        XCTAssertThrowsError(try PerplexityEvaluator(model: model, contextLength: 32, base: small)) { error in
            XCTAssertTrue("\(error)".contains("same vocabulary"), "\(error)")
        }
    }
}
