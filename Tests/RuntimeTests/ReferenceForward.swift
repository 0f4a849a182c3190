import Foundation
import GGUF
import LLMRuntime

/// A deliberately plain f32 forward pass written straight from the LLaMA paper (and, for
/// `gemma3`, the Gemma 3 report: scaled embeddings, q/k norms, post-norms, GeGLU, local
/// sliding-window layers with their own RoPE base), used as the oracle for the optimized one:
/// every weight dequantized, no cache, full recomputation.
struct ReferenceForward {
    let config: ModelConfig
    let file: GGUFFile

    func tensor(_ name: String) -> [Float] {
        TensorConversion.floats(of: file.tensor(named: name)!, in: file)
    }

    /// y = W x, W stored (rows, cols) row-major as in GGUF.
    func matvec(_ w: [Float], _ x: [Float], rows: Int) -> [Float] {
        let cols = x.count
        return (0..<rows).map { r in
            var s: Float = 0
            for c in 0..<cols { s += w[r * cols + c] * x[c] }
            return s
        }
    }

    func rmsNorm(_ x: [Float], _ w: [Float]) -> [Float] {
        let ms = x.reduce(0) { $0 + Double($1 * $1) } / Double(x.count)
        let scale = Float(1 / (ms + Double(config.normEpsilon)).squareRoot())
        return zip(x, w).map { $0 * scale * $1 }
    }

    var gemma: Bool { config.architecture == "gemma3" }

    /// Gemma 3 windows every layer but each sixth (here: the period in the file).
    func isLocal(_ layer: Int) -> Bool { gemma && config.slidingWindow > 0 && config.slidingWindowLayers[layer] }

    func rope(_ v: inout [Float], heads: Int, position: Int, base: Float) {
        let hd = config.headDim, half = config.ropeDimensions / 2
        for h in 0..<heads {
            for i in 0..<half {
                let theta = Float(position) * powf(base, -2 * Float(i) / Float(config.ropeDimensions))
                let (a, b): (Int, Int) = config.ropeStyle == .normal ? (h * hd + 2 * i, h * hd + 2 * i + 1) : (h * hd + i, h * hd + i + half)
                let x0 = v[a], x1 = v[b]
                v[a] = x0 * cosf(theta) - x1 * sinf(theta)
                v[b] = x0 * sinf(theta) + x1 * cosf(theta)
            }
        }
    }

    /// Logits after every position of `tokens`.
    func logits(_ tokens: [Int32]) -> [[Float]] {
        let dim = config.hiddenSize, hd = config.headDim
        let embd = tensor("token_embd.weight")
        var xs = tokens.map { Array(embd[(Int($0) * dim)..<((Int($0) + 1) * dim)]) }
        if gemma { xs = xs.map { $0.map { $0 * Float(dim).squareRoot() } } }
        for (l, s) in config.layers.enumerated() {
            let p = "blk.\(l)."
            let qDim = s.headCount * hd, kvDim = s.kvHeadCount * hd
            let wq = tensor(p + "attn_q.weight"), wk = tensor(p + "attn_k.weight"), wv = tensor(p + "attn_v.weight")
            let wo = tensor(p + "attn_output.weight"), an = tensor(p + "attn_norm.weight"), fn = tensor(p + "ffn_norm.weight")
            let wg = tensor(p + "ffn_gate.weight"), wu = tensor(p + "ffn_up.weight"), wd = tensor(p + "ffn_down.weight")
            let local = isLocal(l)
            let base: Float = local ? 10000 : config.ropeBase
            func headNorm(_ v: [Float], _ w: [Float]) -> [Float] {
                stride(from: 0, to: v.count, by: hd).flatMap { rmsNorm(Array(v[$0..<($0 + hd)]), w) }
            }
            var ks: [[Float]] = [], vs: [[Float]] = [], qs: [[Float]] = []
            for (t, x) in xs.enumerated() {
                let xn = rmsNorm(x, an)
                var q = matvec(wq, xn, rows: qDim), k = matvec(wk, xn, rows: kvDim)
                if gemma {
                    q = headNorm(q, tensor(p + "attn_q_norm.weight"))
                    k = headNorm(k, tensor(p + "attn_k_norm.weight"))
                }
                rope(&q, heads: s.headCount, position: t, base: base)
                rope(&k, heads: s.kvHeadCount, position: t, base: base)
                qs.append(q); ks.append(k); vs.append(matvec(wv, xn, rows: kvDim))
            }
            let group = s.headCount / s.kvHeadCount
            for t in 0..<xs.count {
                var att = [Float](repeating: 0, count: qDim)
                for h in 0..<s.headCount {
                    let kh = h / group
                    // a local layer sees the last `window` positions, itself included
                    let first = local ? max(0, t - config.slidingWindow + 1) : 0
                    var scores = (first...t).map { u -> Float in
                        var d: Float = 0
                        for i in 0..<hd { d += qs[t][h * hd + i] * ks[u][kh * hd + i] }
                        return d / Float(hd).squareRoot()
                    }
                    let m = scores.max()!
                    scores = scores.map { expf($0 - m) }
                    let z = scores.reduce(0, +)
                    for u in first...t { for i in 0..<hd { att[h * hd + i] += scores[u - first] / z * vs[u][kh * hd + i] } }
                }
                var o = matvec(wo, att, rows: dim)
                if file.tensor(named: p + "attn_output.bias") != nil { o = zip(o, tensor(p + "attn_output.bias")).map(+) }
                if gemma { o = rmsNorm(o, tensor(p + "post_attention_norm.weight")) }
                for i in 0..<dim { xs[t][i] += o[i] }
                let xn = rmsNorm(xs[t], fn)
                let g = matvec(wg, xn, rows: s.feedForwardLength), u = matvec(wu, xn, rows: s.feedForwardLength)
                let hdn = gemma
                    ? zip(g, u).map { 0.5 * $0 * (1 + tanhf(0.7978845608 * ($0 + 0.044715 * $0 * $0 * $0))) * $1 }
                    : zip(g, u).map { $0 / (1 + expf(-$0)) * $1 }
                var d = matvec(wd, hdn, rows: dim)
                if file.tensor(named: p + "ffn_down.bias") != nil { d = zip(d, tensor(p + "ffn_down.bias")).map(+) }
                if gemma { d = rmsNorm(d, tensor(p + "post_ffw_norm.weight")) }
                for i in 0..<dim { xs[t][i] += d[i] }
            }
        }
        let on = tensor("output_norm.weight")
        let out = file.tensor(named: "output.weight") != nil ? tensor("output.weight") : embd
        return xs.map { matvec(out, rmsNorm($0, on), rows: config.vocabularySize) }
    }
}
