import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Which positions of a batch need logits.
public enum LogitSelection: Sendable {
    case none
    case last
    /// Every position of the batch (perplexity, multiple-choice scoring).
    case all
}

/// The LLaMA forward pass: config + weights, run on a thread pool, with the per-token state
/// kept outside (in `RunState` and a `KVCache`) so one model can serve several sessions.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public var weights: ModelWeights
    public let pool: ThreadPool
    /// The per-block computations (shared with the pruner).
    public let block: TransformerBlock

    public init(config: ModelConfig, weights: ModelWeights, pool: ThreadPool) {
        self.config = config
        self.weights = weights
        self.pool = pool
        self.block = TransformerBlock(config: config, pool: pool)
    }

    /// Runs a batch of tokens at positions `start..<start+tokens.count` (at most `state.maxBatch`),
    /// extending the cache. Logits, if asked for, are in `state.logits`: one row of
    /// `vocabularySize` per selected position (for `.last`, row 0).
    public func forward(_ tokens: UnsafeBufferPointer<Int32>, start: Int, cache: KVCache, state s: RunState,
                        logits: LogitSelection) {
        let n = tokens.count
        precondition(n > 0 && n <= s.maxBatch, "forward: batch of \(n) tokens, room for \(s.maxBatch)")
        precondition(start + n <= cache.capacity, "forward: positions up to \(start + n) exceed the cache's \(cache.capacity)")
        let dim = config.hiddenSize

        for t in 0..<n { weights.tokenEmbedding.lookup(tokens[t], into: s.x + t * dim) }
        block.prepareRoPE(start: start, count: n, state: s)
        for l in 0..<config.blockCount {
            let w = weights.layers[l], shape = config.layers[l]
            block.attention(w, shape: shape, cacheLayer: l, count: n, start: start, cache: cache, state: s)
            Ops.add(s.xb2, into: s.x, count: n * dim)
            block.feedForward(w, shape: shape, count: n, state: s)
            Ops.add(s.xb2, into: s.x, count: n * dim)
        }
        switch logits {
        case .none: return
        case .last: computeLogits(rows: (n - 1)..<n, state: s)
        case .all: computeLogits(rows: 0..<n, state: s)
        }
    }

    /// Final norm and classifier for `rows` of the batch, written from `state.logits` row 0.
    public func computeLogits(rows: Range<Int>, state s: RunState) {
        let dim = config.hiddenSize
        precondition(rows.count <= s.logitRows, "computeLogits: \(rows.count) rows, room for \(s.logitRows)")
        for (i, t) in rows.enumerated() {
            Ops.rmsNorm(s.x + t * dim, weight: weights.outputNorm, count: dim, eps: config.normEpsilon, into: s.xb + i * dim)
        }
        s.xin.prepare(s.xb, rows: rows.count, columns: dim, for: weights.output, pool: pool)
        pool.matmul(weights.output, s.xin, into: s.logits, outStride: config.vocabularySize)
        let cap = config.finalLogitSoftcap
        if cap > 0 {
            for i in 0..<(rows.count * config.vocabularySize) { s.logits[i] = cap * tanhf(s.logits[i] / cap) }
        }
    }
}
