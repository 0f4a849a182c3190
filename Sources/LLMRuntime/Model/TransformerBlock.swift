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

    /// cos/sin of every (row, frequency) pair of the batch, each row at its own sequence's
    /// position, shared by all layers (a second table for sliding-window layers, which rotate
    /// with their own base).
    public func prepareRoPE(_ rows: BatchRows, state s: RunState) {
        fillRoPE(base: config.ropeBase, positionScale: config.ropeScale, rows: rows, cos: s.ropeCos, sin: s.ropeSin)
        if config.slidingWindow > 0 {
            fillRoPE(base: config.ropeBaseSlidingWindow, positionScale: 1, rows: rows,
                     cos: s.ropeCosWindow, sin: s.ropeSinWindow)
        }
    }

    private func fillRoPE(base: Float, positionScale: Float, rows: BatchRows,
                          cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let half = config.ropeDimensions / 2
        guard half > 0 else { return }
        // theta_i = pos * base^(-2i/d), computed as llama.cpp does: successive powers of one factor.
        let factor = powf(base, -2 / Float(config.ropeDimensions))
        for t in 0..<rows.count {
            var theta = Float(rows.locate(row: t).position) * positionScale
            for i in 0..<half {
                cos[t * half + i] = cosf(theta)
                sin[t * half + i] = sinf(theta)
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
    /// the heads' concatenated output (the input of `wo`) in `state.att`. The projections run
    /// once over every row of the batch; each row is rotated at its own position, stored in its
    /// sequence's cache and attends over that cache only. The weights are passed in so the
    /// pruner can run layers it loads one at a time; `cacheLayer` is the caches' slot, `layer`
    /// the block's index in the model (which decides a sliding window; default: the slot).
    public func attention(_ w: LayerWeights, shape: LayerShape, cacheLayer l: Int, layer: Int? = nil,
                          rows: BatchRows, state s: RunState) {
        let n = rows.count
        let dim = config.hiddenSize, hd = config.headDim
        let qDim = shape.headCount * hd, kvDim = shape.kvHeadCount * hd
        guard let wq = w.wq, let wk = w.wk, let wv = w.wv, let wo = w.wo, shape.headCount > 0 else {
            s.xb2.update(repeating: 0, count: n * dim)
            return
        }
        normalizeInput(w.attentionNorm, count: n, for: wq, state: s)
        pool.matmul([MatmulJob(wq, into: s.q, outStride: qDim), MatmulJob(wk, into: s.k, outStride: kvDim),
                     MatmulJob(wv, into: s.v, outStride: kvDim)], s.xin)
        let half = config.ropeDimensions / 2
        let windowed = config.isSlidingWindow(layer ?? l)
        let ropeCos = windowed ? s.ropeCosWindow : s.ropeCos, ropeSin = windowed ? s.ropeSinWindow : s.ropeSin
        for t in 0..<n {
            let q = s.q + t * qDim, k = s.k + t * kvDim
            if let b = w.bq { Ops.add(b, into: q, count: qDim) }
            if let b = w.bk { Ops.add(b, into: k, count: kvDim) }
            if let b = w.bv { Ops.add(b, into: s.v + t * kvDim, count: kvDim) }
            if let norm = w.qNorm { normalizeHeads(q, heads: shape.headCount, weight: norm) }
            if let norm = w.kNorm { normalizeHeads(k, heads: shape.kvHeadCount, weight: norm) }
            rotate(q, heads: shape.headCount, cos: ropeCos + t * half, sin: ropeSin + t * half)
            rotate(k, heads: shape.kvHeadCount, cos: ropeCos + t * half, sin: ropeSin + t * half)
            let (sequence, position) = rows.locate(row: t)
            sequence.cache.store(layer: l, position: position, keys: k, values: s.v + t * kvDim)
        }
        // Each query head attends over its KV group in its own sequence's cache, causally
        // (within the window, if any).
        let group = shape.headCount / shape.kvHeadCount
        let heads = shape.headCount
        let ctx = s.contextLength
        let window = windowed ? config.slidingWindow : Int.max
        let scale = config.attentionScale
        // With enough rows, one job per (row, KV head) runs the query heads sharing those keys and
        // values one after another: the first brings them from DRAM (the weights streamed since
        // the last step evicted them), the others find them in L1. Split over threads head by
        // head, each thread fetched them again (SmolLM2, 4 sequences: attention was 20% of a
        // step). A single row keeps one job per head, so the few jobs still balance.
        let perJob = n * shape.kvHeadCount >= 4 * pool.threadCount ? group : 1
        pool.parallelFor(n * heads / perJob) { job, thread in
            for h0 in 0..<perJob {
                let t = job * perJob / heads, h = job * perJob % heads + h0
                let (sequence, position) = rows.locate(row: t)
                let end = position + 1
                sequence.cache.attend(layer: l, kvHead: h / group, query: s.q + t * qDim + h * hd,
                                      positions: max(0, end - window)..<end, scale: scale,
                                      scores: s.scores + thread * ctx, into: s.att + t * qDim + h * hd)
            }
        }
        s.xin.prepare(s.att, rows: n, columns: qDim, for: wo, pool: pool)
        pool.matmul(wo, s.xin, into: s.xb2, outStride: dim)
        if let b = w.woBias { for t in 0..<n { Ops.add(b, into: s.xb2 + t * dim, count: dim) } }
        if let norm = w.attentionPostNorm { normalizeOutput(norm, count: n, state: s) }
    }

    /// RMSNorm of each `headDim` slice in place (Gemma 3's q/k norms).
    private func normalizeHeads(_ v: UnsafeMutablePointer<Float>, heads: Int, weight: [Float]) {
        let hd = config.headDim
        for h in 0..<heads {
            Ops.rmsNorm(v + h * hd, weight: weight, count: hd, eps: config.normEpsilon, into: v + h * hd)
        }
    }

    /// RMSNorm of the sub-layer output rows in `xb2`, in place (Gemma 3's post-norms).
    private func normalizeOutput(_ weight: [Float], count n: Int, state s: RunState) {
        let dim = config.hiddenSize
        for t in 0..<n {
            Ops.rmsNorm(s.xb2 + t * dim, weight: weight, count: dim, eps: config.normEpsilon, into: s.xb2 + t * dim)
        }
    }

    /// The sub-layer input: `xb = rmsnorm(x) * weight` per token, then its mat-mul form in `xin`
    /// shared by the mat-muls that read it (q/k/v, or gate/up).
    private func normalizeInput(_ weight: [Float], count n: Int, for matrix: WeightMatrix?, state s: RunState) {
        let dim = config.hiddenSize
        for t in 0..<n {
            Ops.rmsNorm(s.x + t * dim, weight: weight, count: dim, eps: config.normEpsilon, into: s.xb + t * dim)
        }
        s.xin.prepare(s.xb, rows: n, columns: dim, for: matrix, pool: pool)
    }

    /// `hb = act(hb) * hb2` over `count` values. A prompt batch has n·ff of them (131,072 a
    /// block for Gemma-3-270M at 64 tokens), so they are shared out over the pool; a single
    /// token's few thousand take less time than handing them out.
    private func activateGate(count: Int, state s: RunState) {
        let activation = config.gateActivation
        let slice = 8192
        guard count > slice, pool.threadCount > 1 else {
            Ops.gate(activation, gate: s.hb, up: s.hb2, count: count)
            return
        }
        pool.parallelFor((count + slice - 1) / slice) { c, _ in
            let start = c * slice
            Ops.gate(activation, gate: s.hb + start, up: s.hb2 + start, count: min(slice, count - start))
        }
    }

    /// Gated MLP sub-layer of one block (SwiGLU, or GeGLU for Gemma): reads `state.x`, leaves its
    /// output in `state.xb2` and the hidden activations (the input of `down`) in `state.hb`.
    public func feedForward(_ w: LayerWeights, shape: LayerShape, count n: Int, state s: RunState) {
        let dim = config.hiddenSize, ff = shape.feedForwardLength
        guard let gate = w.gate, let up = w.up, let down = w.down, ff > 0 else {
            s.xb2.update(repeating: 0, count: n * dim)
            return
        }
        normalizeInput(w.ffnNorm, count: n, for: gate, state: s)
        pool.matmul([MatmulJob(gate, into: s.hb, outStride: ff), MatmulJob(up, into: s.hb2, outStride: ff)], s.xin)
        activateGate(count: n * ff, state: s)
        s.xin.prepare(s.hb, rows: n, columns: ff, for: down, pool: pool)
        pool.matmul(down, s.xin, into: s.xb2, outStride: dim)
        if let b = w.downBias { for t in 0..<n { Ops.add(b, into: s.xb2 + t * dim, count: dim) } }
        if let norm = w.ffnPostNorm { normalizeOutput(norm, count: n, state: s) }
    }
}
