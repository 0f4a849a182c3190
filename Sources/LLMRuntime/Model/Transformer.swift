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
        forward(batch: [BatchSegment(tokens: Array(tokens), start: start, cache: cache, logits: logits)], state: s)
    }

    /// One step over several sequences at once: each segment's tokens extend its own cache from
    /// its own position. Every matrix product runs once over all the rows (so the weights are
    /// read once per step for every sequence); RoPE, the causal mask and attention are per
    /// sequence. Logit rows are in `state.logits` in segment order: for each segment that asks,
    /// its last row (`.last`) or all its rows (`.all`).
    public func forward(batch segments: [BatchSegment], state s: RunState) {
        let rows = layout(segments, state: s)
        let n = rows.count, dim = config.hiddenSize

        for (segment, sequence) in zip(segments, rows.sequences) {
            for (i, token) in segment.tokens.enumerated() {
                weights.tokenEmbedding.lookup(token, into: s.x + (sequence.rows.lowerBound + i) * dim)
            }
        }
        block.prepareRoPE(rows, state: s)
        for l in 0..<config.blockCount {
            let w = weights.layers[l], shape = config.layers[l]
            block.attention(w, shape: shape, cacheLayer: l, rows: rows, state: s)
            Ops.add(s.xb2, into: s.x, count: n * dim)
            block.feedForward(w, shape: shape, count: n, state: s)
            Ops.add(s.xb2, into: s.x, count: n * dim)
        }
        var logitRows: [Int] = []
        for (segment, sequence) in zip(segments, rows.sequences) {
            switch segment.logits {
            case .none: break
            case .last: logitRows.append(sequence.rows.upperBound - 1)
            case .all: logitRows += sequence.rows
            }
        }
        if !logitRows.isEmpty { computeLogits(rows: logitRows, state: s) }
    }

    /// The segments' rows in the run state, one after another, checked against its room and
    /// each cache's.
    private func layout(_ segments: [BatchSegment], state s: RunState) -> BatchRows {
        var sequences: [SequenceRows] = []
        var next = 0
        for (i, segment) in segments.enumerated() {
            let count = segment.tokens.count, end = segment.start + count
            precondition(count > 0, "forward: segment \(i) has no tokens")
            precondition(end <= segment.cache.capacity && end <= s.contextLength,
                         "forward: segment \(i) reaches position \(end), beyond its cache's \(segment.cache.capacity) or the state's \(s.contextLength)")
            precondition(!sequences.contains { $0.cache === segment.cache }, "forward: segments \(i) and another share a KV cache")
            sequences.append(SequenceRows(rows: next..<(next + count), start: segment.start, cache: segment.cache))
            next += count
        }
        precondition(next > 0 && next <= s.maxBatch, "forward: batch of \(next) tokens, room for \(s.maxBatch)")
        return BatchRows(sequences)
    }

    /// Final norm and classifier for `rows` of the batch, written from `state.logits` row 0.
    public func computeLogits(rows: Range<Int>, state s: RunState) {
        computeLogits(rows: Array(rows), state: s)
    }

    /// Final norm and classifier for the given rows of the batch, written in that order from
    /// `state.logits` row 0.
    public func computeLogits(rows: [Int], state s: RunState) {
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
