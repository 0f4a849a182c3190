#if canImport(Glibc)
import Glibc
#endif

/// The result of a perplexity run, with llama-perplexity's ± estimate.
public struct PerplexityResult: Sendable, Codable {
    public var perplexity: Double
    public var uncertainty: Double
    public var chunks: Int
    public var contextLength: Int
    public var scoredTokens: Int
    public var seconds: Double
    /// Mean negative log-likelihood per scored token (nats).
    public var meanNLL: Double
}

/// Perplexity with llama-perplexity's protocol: the whole text is tokenized once (BOS first when
/// the vocabulary adds one), cut into non-overlapping chunks of `contextLength` tokens whose
/// first token is BOS, and only the second half of each chunk is scored.
public struct PerplexityEvaluator {
    public let model: LanguageModel
    public let contextLength: Int
    public let batchSize: Int

    public init(model: LanguageModel, contextLength: Int, batchSize: Int = 256) {
        self.model = model
        self.contextLength = contextLength
        self.batchSize = max(1, min(batchSize, contextLength))
    }

    /// Tokens of `text` as llama-perplexity makes them.
    public func tokenize(_ text: String) -> [Int32] {
        model.tokenize(text, parseSpecial: false)
    }

    /// How many whole chunks `tokens` gives.
    public func availableChunks(_ tokens: [Int32]) -> Int { tokens.count / contextLength }

    /// - Parameter progress: called after each chunk with (chunks done, running perplexity);
    ///   return false to stop early.
    public func evaluate(tokens: [Int32], chunks requested: Int?, progress: (Int, Double) -> Bool = { _, _ in true })
        throws(ModelError) -> PerplexityResult {
        let n = contextLength
        let available = availableChunks(tokens)
        guard available > 0 else {
            throw .invalidRequest("the text has \(tokens.count) tokens, fewer than one chunk of \(n) (use a longer text or a smaller -c)")
        }
        let chunkCount = min(requested ?? available, available)
        let vocab = model.config.vocabularySize
        let session = try GenerationSession(model: model, contextLength: n, batchSize: batchSize,
                                            logitRows: min(64, batchSize))
        let first = n / 2
        let addBOS = model.tokenizer.addsBOS && model.tokenizer.bosToken != nil
        let started = Clock.now()
        var nll = 0.0, nll2 = 0.0, count = 0
        var rowNLL = [Double](repeating: 0, count: session.state.logitRows)
        var done = 0
        for c in 0..<chunkCount {
            var chunk = Array(tokens[(c * n)..<((c + 1) * n)])
            if addBOS { chunk[0] = model.tokenizer.bosToken! }
            session.reset()
            // Score positions j in [first, n-1): the logits at j predict token j+1.
            try session.prefill(chunk, scoring: first..<(n - 1)) { positions, logits in
                rowNLL.withUnsafeMutableBufferPointer { out in
                    model.pool.parallelFor(positions.count) { i, _ in
                        let target = Int(chunk[positions.lowerBound + i + 1])
                        out[i] = -logSoftmax(logits + i * vocab, count: vocab, at: target)
                    }
                }
                for i in 0..<positions.count {
                    nll += rowNLL[i]
                    nll2 += rowNLL[i] * rowNLL[i]
                }
                count += positions.count
            }
            done = c + 1
            if !progress(done, exp(nll / Double(count))) { break }
        }
        let mean = nll / Double(count)
        let ppl = exp(mean)
        var variance = nll2 / Double(count) - mean * mean
        variance = max(variance, 0)
        let err = count > 1 ? ppl * (variance / Double(count - 1)).squareRoot() : 0
        return PerplexityResult(perplexity: ppl, uncertainty: err, chunks: done, contextLength: n, scoredTokens: count,
                                seconds: Clock.now() - started, meanNLL: mean)
    }
}

/// log softmax(logits)[index], accumulated in f64.
public func logSoftmax(_ logits: UnsafePointer<Float>, count: Int, at index: Int) -> Double {
    var maxValue = -Float.infinity
    for i in 0..<count where logits[i] > maxValue { maxValue = logits[i] }
    var sum = 0.0
    for i in 0..<count { sum += Double(expf(logits[i] - maxValue)) }
    return Double(logits[index] - maxValue) - log(sum)
}
