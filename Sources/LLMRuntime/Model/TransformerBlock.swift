import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// One transformer block's computations — RMSNorm, q/k/v, RoPE, attention over the cache, output
/// projection; RMSNorm, SwiGLU — for whatever layer weights it is handed. Inference runs every
/// block through it; the pruner runs single layers it loads one at a time.
public struct TransformerBlock: @unchecked Sendable {
    public let config: ModelConfig
    public let pool: ThreadPool

    public init(config: ModelConfig, pool: ThreadPool) {
        self.config = config
        self.pool = pool
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

    /// Attention sub-layer of one block: reads `state.x`, leaves its output in `state.xb2` and
    /// the heads' concatenated output (the input of `wo`) in `state.att`. The weights are passed
    /// in so the pruner can run layers it loads one at a time; `cacheLayer` is the cache's slot.
    public func attention(_ w: LayerWeights, shape: LayerShape, cacheLayer l: Int, count n: Int, start: Int,
                          cache: KVCache, state s: RunState) {
        let dim = config.hiddenSize, hd = config.headDim
        let qDim = shape.headCount * hd, kvDim = shape.kvHeadCount * hd
        guard let wq = w.wq, let wk = w.wk, let wv = w.wv, let wo = w.wo, shape.headCount > 0 else {
            s.xb2.update(repeating: 0, count: n * dim)
            return
        }
        normalizeInput(w.attentionNorm, count: n, state: s)
        pool.matmul([MatmulJob(wq, into: s.q, outStride: qDim), MatmulJob(wk, into: s.k, outStride: kvDim),
                     MatmulJob(wv, into: s.v, outStride: kvDim)], s.xin)
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
        s.xin.prepare(s.att, rows: n, columns: qDim, pool: pool)
        pool.matmul(wo, s.xin, into: s.xb2, outStride: dim)
        if let b = w.woBias { for t in 0..<n { Ops.add(b, into: s.xb2 + t * dim, count: dim) } }
    }

    /// The sub-layer input: `xb = rmsnorm(x) * weight` per token, then its mat-mul form in `xin`
    /// shared by the mat-muls that read it (q/k/v, or gate/up).
    private func normalizeInput(_ weight: [Float], count n: Int, state s: RunState) {
        let dim = config.hiddenSize
        for t in 0..<n {
            Ops.rmsNorm(s.x + t * dim, weight: weight, count: dim, eps: config.normEpsilon, into: s.xb + t * dim)
        }
        s.xin.prepare(s.xb, rows: n, columns: dim, pool: pool)
    }

    /// SwiGLU MLP sub-layer of one block: reads `state.x`, leaves its output in `state.xb2` and
    /// the hidden activations (the input of `down`) in `state.hb`.
    public func feedForward(_ w: LayerWeights, shape: LayerShape, count n: Int, state s: RunState) {
        let dim = config.hiddenSize, ff = shape.feedForwardLength
        guard let gate = w.gate, let up = w.up, let down = w.down, ff > 0 else {
            s.xb2.update(repeating: 0, count: n * dim)
            return
        }
        normalizeInput(w.ffnNorm, count: n, state: s)
        pool.matmul([MatmulJob(gate, into: s.hb, outStride: ff), MatmulJob(up, into: s.hb2, outStride: ff)], s.xin)
        Ops.swiGLU(gate: s.hb, up: s.hb2, count: n * ff)
        s.xin.prepare(s.hb, rows: n, columns: ff, pool: pool)
        pool.matmul(down, s.xin, into: s.xb2, outStride: dim)
        if let b = w.downBias { for t in 0..<n { Ops.add(b, into: s.xb2 + t * dim, count: dim) } }
    }
}
