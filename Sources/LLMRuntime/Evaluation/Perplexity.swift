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
    /// Against a base model (`PerplexityEvaluator.base`): how far this model's next-token
    /// distributions are from the base's on the same tokens.
    public var divergence: DivergenceResult?
}

/// KL(base ‖ model) per scored token, as llama-perplexity's --kl-divergence reports it: the
/// base is the reference (a dense or unquantized model), the model the one being judged.
public struct DivergenceResult: Sendable, Codable {
    /// Mean KL divergence in nats, with the standard error of that mean.
    public var meanKL: Double
    public var klUncertainty: Double
    /// The largest per-token KL divergence.
    public var maxKL: Double
    /// The share of scored tokens where both models rank the same token first.
    public var sameTopToken: Double
    /// The base model's perplexity on the same chunks.
    public var basePerplexity: Double
}

/// Perplexity with llama-perplexity's protocol: the whole text is tokenized once (BOS first when
/// the vocabulary adds one), cut into non-overlapping chunks of `contextLength` tokens whose
/// first token is BOS, and only the second half of each chunk is scored.
public struct PerplexityEvaluator {
    public let model: LanguageModel
    public let contextLength: Int
    public let batchSize: Int
    /// A reference model over the same vocabulary: each chunk runs through it first and the
    /// result also says how far `model`'s distributions are from its (`divergence`).
    public let base: LanguageModel?

    public init(model: LanguageModel, contextLength: Int, batchSize: Int = 256, base: LanguageModel? = nil) throws(ModelError) {
        self.model = model
        self.contextLength = contextLength
        self.batchSize = max(1, min(batchSize, contextLength))
        self.base = base
        if let base, base.config.vocabularySize != model.config.vocabularySize {
            throw .invalidRequest("the base model has \(base.config.vocabularySize) tokens in its vocabulary and this one \(model.config.vocabularySize): KL divergence needs the same vocabulary")
        }
    }

    /// Tokens of `text` as llama-perplexity makes them.
    public func tokenize(_ text: String) -> [Int32] {
        model.tokenize(text, parseSpecial: false)
    }

    /// Throws unless the base model, if any, makes the same tokens of `text` (the same vocabulary).
    public func checkBaseTokenizes(_ text: String, as tokens: [Int32]) throws(ModelError) {
        guard let base else { return }
        if base.tokenize(text, parseSpecial: false) != tokens {
            throw .invalidRequest("the base model tokenizes the text differently: KL divergence needs the same vocabulary")
        }
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
        let baseSession = try base.map { m throws(ModelError) in
            try GenerationSession(model: m, contextLength: n, batchSize: batchSize, logitRows: min(64, batchSize))
        }
        let first = n / 2, scored = first..<(n - 1)
        let addBOS = model.tokenizer.addsBOS && model.tokenizer.bosToken != nil
        let started = Clock.now()
        var nll = Statistic(), baseNLL = Statistic(), kl = Statistic(), sameTop = 0
        // Per-row results written by the pool's threads, and the base's log-probabilities of
        // every scored position of a chunk (vocab floats each) with its top token.
        let rows = session.state.logitRows, hasBase = base != nil
        let rowNLL = UnsafeMutablePointer<Double>.allocate(capacity: rows)
        let rowKL = UnsafeMutablePointer<Double>.allocate(capacity: rows)
        let rowSame = UnsafeMutablePointer<Bool>.allocate(capacity: rows)
        let baseLogProbs = UnsafeMutablePointer<Float>.allocate(capacity: hasBase ? scored.count * vocab : 1)
        let baseTop = UnsafeMutablePointer<Int>.allocate(capacity: hasBase ? scored.count : 1)
        defer {
            rowNLL.deallocate(); rowKL.deallocate(); rowSame.deallocate()
            baseLogProbs.deallocate(); baseTop.deallocate()
        }
        var done = 0
        for c in 0..<chunkCount {
            var chunk = Array(tokens[(c * n)..<((c + 1) * n)])
            if addBOS { chunk[0] = model.tokenizer.bosToken! }
            if let baseSession {
                baseSession.reset()
                try baseSession.prefill(chunk, scoring: scored) { positions, logits in
                    let row0 = positions.lowerBound - scored.lowerBound
                    model.pool.parallelFor(positions.count) { i, _ in
                        let lp = baseLogProbs + (row0 + i) * vocab
                        baseTop[row0 + i] = logSoftmax(logits + i * vocab, count: vocab, into: lp)
                        rowNLL[i] = -Double(lp[Int(chunk[positions.lowerBound + i + 1])])
                    }
                    for i in 0..<positions.count { baseNLL.add(rowNLL[i]) }
                }
            }
            session.reset()
            // Score positions j in [first, n-1): the logits at j predict token j+1.
            try session.prefill(chunk, scoring: scored) { positions, logits in
                let row0 = positions.lowerBound - scored.lowerBound
                model.pool.parallelFor(positions.count) { i, _ in
                    let target = Int(chunk[positions.lowerBound + i + 1])
                    rowNLL[i] = -logSoftmax(logits + i * vocab, count: vocab, at: target)
                    guard hasBase else { return }
                    let d = klDivergence(base: baseLogProbs + (row0 + i) * vocab, logits: logits + i * vocab, count: vocab)
                    rowKL[i] = d.kl
                    rowSame[i] = d.top == baseTop[row0 + i]
                }
                for i in 0..<positions.count {
                    nll.add(rowNLL[i])
                    if hasBase {
                        kl.add(rowKL[i])
                        if rowSame[i] { sameTop += 1 }
                    }
                }
            }
            done = c + 1
            if !progress(done, exp(nll.mean)) { break }
        }
        let ppl = exp(nll.mean)
        let divergence = base == nil ? nil
            : DivergenceResult(meanKL: kl.mean, klUncertainty: kl.standardError, maxKL: kl.max,
                               sameTopToken: Double(sameTop) / Double(max(1, kl.count)), basePerplexity: exp(baseNLL.mean))
        return PerplexityResult(perplexity: ppl, uncertainty: ppl * nll.standardError, chunks: done, contextLength: n,
                                scoredTokens: nll.count, seconds: Clock.now() - started, meanNLL: nll.mean,
                                divergence: divergence)
    }
}

/// A running mean, the standard error of that mean, and the largest value.
private struct Statistic {
    var count = 0, sum = 0.0, sumSquares = 0.0, max = -Double.infinity
    mutating func add(_ x: Double) {
        count += 1; sum += x; sumSquares += x * x
        if x > max { max = x }
    }
    var mean: Double { count > 0 ? sum / Double(count) : 0 }
    /// As llama-perplexity's ± (sample variance over n − 1).
    var standardError: Double {
        guard count > 1 else { return 0 }
        let variance = Swift.max(sumSquares / Double(count) - mean * mean, 0)
        return (variance / Double(count - 1)).squareRoot()
    }
}

/// log softmax(logits) into `out`; returns the index of the largest logit.
func logSoftmax(_ logits: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) -> Int {
    var maxValue = -Float.infinity, top = 0
    for i in 0..<count where logits[i] > maxValue { maxValue = logits[i]; top = i }
    var sum = 0.0
    for i in 0..<count { sum += Double(expf(logits[i] - maxValue)) }
    let shift = maxValue + Float(log(sum))
    for i in 0..<count { out[i] = logits[i] - shift }
    return top
}

/// KL(base ‖ model) = Σ p_base (log p_base − log p_model) for one position, given the base's
/// log-probabilities and the model's logits, in f64; and the model's top token.
func klDivergence(base: UnsafePointer<Float>, logits: UnsafePointer<Float>, count: Int) -> (kl: Double, top: Int) {
    var maxValue = -Float.infinity, top = 0
    for i in 0..<count where logits[i] > maxValue { maxValue = logits[i]; top = i }
    var sum = 0.0
    for i in 0..<count { sum += Double(expf(logits[i] - maxValue)) }
    let logZ = Double(maxValue) + log(sum)
    var kl = 0.0
    for i in 0..<count {
        let lb = Double(base[i])
        kl += exp(lb) * (lb - (Double(logits[i]) - logZ))
    }
    return (Swift.max(kl, 0), top)
}

/// log softmax(logits)[index], accumulated in f64.
public func logSoftmax(_ logits: UnsafePointer<Float>, count: Int, at index: Int) -> Double {
    var maxValue = -Float.infinity
    for i in 0..<count where logits[i] > maxValue { maxValue = logits[i] }
    var sum = 0.0
    for i in 0..<count { sum += Double(expf(logits[i] - maxValue)) }
    return Double(logits[index] - maxValue) - log(sum)
}
