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

    public init(config: ModelConfig, weights: ModelWeights, pool: ThreadPool) {
        self.config = config
        self.weights = weights
        self.pool = pool
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
        prepareRoPE(start: start, count: n, state: s)
        for l in 0..<config.blockCount {
            attention(layer: l, count: n, start: start, cache: cache, state: s)
            Ops.add(s.xb2, into: s.x, count: n * dim)
            feedForward(layer: l, count: n, state: s)
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
        s.xq.quantize(s.xb, rows: rows.count, columns: dim, pool: pool)
        pool.matmul(weights.output, s.xq, into: s.logits, outStride: config.vocabularySize)
    }

    /// cos/sin of every (position, frequency) pair of the batch, shared by all layers.
    public func prepareRoPE(start: Int, count n: Int, state s: RunState) {
        let half = config.ropeDimensions / 2
        guard half > 0 else { return }
        // theta_i = pos * base^(-2i/d), computed as llama.cpp does: successive powers of one factor.
        let factor = powf(config.ropeBase, -2 / Float(config.ropeDimensions))
        for t in 0..<n {
            var theta = Float(start + t)
            for i in 0..<half {
                s.ropeCos[t * half + i] = cosf(theta)
                s.ropeSin[t * half + i] = sinf(theta)
                theta *= factor
            }
        }
    }

    /// Rotates the first `ropeDimensions` values of each of `heads` vectors of `headDim`.
    @inline(__always)
    private func rotate(_ v: UnsafeMutablePointer<Float>, heads: Int, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        let hd = config.headDim, half = config.ropeDimensions / 2
        for h in 0..<heads {
            let p = v + h * hd
            switch config.ropeStyle {
            case .normal:
                for i in 0..<half {
                    let a = p[2 * i], b = p[2 * i + 1]
                    p[2 * i] = a * cos[i] - b * sin[i]
                    p[2 * i + 1] = a * sin[i] + b * cos[i]
                }
            case .neox:
                for i in 0..<half {
                    let a = p[i], b = p[i + half]
                    p[i] = a * cos[i] - b * sin[i]
                    p[i + half] = a * sin[i] + b * cos[i]
                }
            }
        }
    }

    /// Attention sub-layer of block `l`: reads `state.x`, leaves its output in `state.xb2`
    /// and the heads' concatenated output (the input of `wo`) in `state.att`.
    public func attention(layer l: Int, count n: Int, start: Int, cache: KVCache, state s: RunState) {
        let shape = config.layers[l]
        let w = weights.layers[l]
        let dim = config.hiddenSize, hd = config.headDim
        let qDim = shape.headCount * hd, kvDim = shape.kvHeadCount * hd
        guard let wq = w.wq, let wk = w.wk, let wv = w.wv, let wo = w.wo, shape.headCount > 0 else {
            s.xb2.update(repeating: 0, count: n * dim)
            return
        }
        for t in 0..<n {
            Ops.rmsNorm(s.x + t * dim, weight: w.attentionNorm, count: dim, eps: config.normEpsilon, into: s.xb + t * dim)
        }
        s.xq.quantize(s.xb, rows: n, columns: dim, pool: pool)
        pool.matmul(wq, s.xq, into: s.q, outStride: qDim)
        pool.matmul(wk, s.xq, into: s.k, outStride: kvDim)
        pool.matmul(wv, s.xq, into: s.v, outStride: kvDim)
        let half = config.ropeDimensions / 2
        for t in 0..<n {
            if let b = w.bq { Ops.add(b, into: s.q + t * qDim, count: qDim) }
            if let b = w.bk { Ops.add(b, into: s.k + t * kvDim, count: kvDim) }
            if let b = w.bv { Ops.add(b, into: s.v + t * kvDim, count: kvDim) }
            rotate(s.q + t * qDim, heads: shape.headCount, cos: s.ropeCos + t * half, sin: s.ropeSin + t * half)
            rotate(s.k + t * kvDim, heads: shape.kvHeadCount, cos: s.ropeCos + t * half, sin: s.ropeSin + t * half)
            cache.store(layer: l, position: start + t, keys: s.k + t * kvDim, values: s.v + t * kvDim)
        }
        // Each query head attends over its KV group's cache, causally.
        let group = shape.headCount / shape.kvHeadCount
        let heads = shape.headCount
        let ctx = s.contextLength
        pool.parallelFor(n * heads) { job, thread in
            let t = job / heads, h = job % heads
            cache.attend(layer: l, kvHead: h / group, query: s.q + t * qDim + h * hd, length: start + t + 1,
                         scores: s.scores + thread * ctx, into: s.att + t * qDim + h * hd)
        }
        s.xq.quantize(s.att, rows: n, columns: qDim, pool: pool)
        pool.matmul(wo, s.xq, into: s.xb2, outStride: dim)
    }

    /// SwiGLU MLP sub-layer of block `l`: reads `state.x`, leaves its output in `state.xb2` and
    /// the hidden activations (the input of `down`) in `state.hb`.
    public func feedForward(layer l: Int, count n: Int, state s: RunState) {
        let w = weights.layers[l]
        let dim = config.hiddenSize, ff = config.layers[l].feedForwardLength
        guard let gate = w.gate, let up = w.up, let down = w.down, ff > 0 else {
            s.xb2.update(repeating: 0, count: n * dim)
            return
        }
        for t in 0..<n {
            Ops.rmsNorm(s.x + t * dim, weight: w.ffnNorm, count: dim, eps: config.normEpsilon, into: s.xb + t * dim)
        }
        s.xq.quantize(s.xb, rows: n, columns: dim, pool: pool)
        pool.matmul(gate, s.xq, into: s.hb, outStride: ff)
        pool.matmul(up, s.xq, into: s.hb2, outStride: ff)
        Ops.swiGLU(gate: s.hb, up: s.hb2, count: n * ff)
        s.xq.quantize(s.hb, rows: n, columns: ff, pool: pool)
        pool.matmul(down, s.xq, into: s.xb2, outStride: dim)
    }
}
