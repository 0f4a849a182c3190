import Foundation
import LLMRuntime

/// A pruned SwiGLU MLP in f32, as the refit trains it: y = down · (silu(gate·x) ⊙ (up·x)) + bias,
/// x the block's normalized MLP input (fixed: the norm's gains are not trained).
/// One flat array, so Adam and the best-so-far copy treat it as one vector.
public struct SwiGLUParameters: Sendable {
    public let dim: Int
    public let width: Int
    /// gate (width × dim) | up (width × dim) | down (dim × width) | bias (dim), row-major.
    public var values: [Float]

    public init(dim: Int, width: Int, gate: [Float], up: [Float], down: [Float], bias: [Float]?) {
        precondition(gate.count == width * dim && up.count == width * dim && down.count == dim * width)
        self.dim = dim
        self.width = width
        values = gate + up + down + (bias ?? [Float](repeating: 0, count: dim))
    }

    var upOffset: Int { width * dim }
    var downOffset: Int { 2 * width * dim }
    var biasOffset: Int { 3 * width * dim }
    public var gate: [Float] { Array(values[0..<upOffset]) }
    public var up: [Float] { Array(values[upOffset..<downOffset]) }
    public var down: [Float] { Array(values[downOffset..<biasOffset]) }
    public var bias: [Float] { Array(values[biasOffset...]) }
}

/// Forward and backward passes of the SwiGLU MLP's squared error over batches of up to `maxRows`
/// tokens, with scratch for one batch (what the refit holds besides the block).
final class SwiGLUGradient {
    let dim: Int, width: Int, maxRows: Int
    let pool: ThreadPool?
    private let g, u, h, y: UnsafeMutablePointer<Float>

    init(dim: Int, width: Int, maxRows: Int, pool: ThreadPool?) {
        self.dim = dim
        self.width = width
        self.maxRows = maxRows
        self.pool = pool
        g = .allocate(capacity: maxRows * width)
        u = .allocate(capacity: maxRows * width)
        h = .allocate(capacity: maxRows * width)
        y = .allocate(capacity: maxRows * dim)
    }

    deinit { g.deallocate(); u.deallocate(); h.deallocate(); y.deallocate() }

    /// Σ (y − target)² over `rows` tokens; leaves gate·x, up·x, the hidden h and y − target in scratch.
    @discardableResult
    func squaredError(_ p: UnsafePointer<Float>, x: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int) -> Double {
        precondition(rows <= maxRows)
        let w = width, d = dim
        Sgemm.multiply(x, lda: d, p, transposeB: true, ldb: d, m: rows, n: w, k: d, into: g, ldc: w, pool: pool)
        Sgemm.multiply(x, lda: d, p + w * d, transposeB: true, ldb: d, m: rows, n: w, k: d, into: u, ldc: w, pool: pool)
        for i in 0..<(rows * w) {
            let gi = g[i]
            h[i] = gi / (1 + exp(-gi)) * u[i]
        }
        Sgemm.multiply(h, lda: w, p + 2 * w * d, transposeB: true, ldb: w, m: rows, n: d, k: w, into: y, ldc: d, pool: pool)
        let bias = p + 3 * w * d
        var sum = 0.0
        for r in 0..<rows {
            let yr = y + r * d, tr = target + r * d
            var s: Float = 0
            for j in 0..<d {
                let e = yr[j] + bias[j] - tr[j]
                yr[j] = e
                s += e * e
            }
            sum += Double(s)
        }
        return sum
    }

    /// The mean squared error over the batch (over tokens and dimensions), and its gradient
    /// with respect to every parameter in `grad` (same layout as the parameters).
    func meanSquaredError(_ p: UnsafePointer<Float>, x: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int,
                          gradient grad: UnsafeMutablePointer<Float>) -> Double {
        let w = width, d = dim
        let loss = squaredError(p, x: x, target: target, rows: rows) / Double(rows * d)
        // dL/dy = 2 (y − t) / (rows · dim), in place of y − t.
        let scale = Float(2.0 / Double(rows * d))
        for i in 0..<(rows * d) { y[i] *= scale }
        let dy = y
        // bias: column sums of dy.
        let gb = grad + 3 * w * d
        gb.update(repeating: 0, count: d)
        for r in 0..<rows { let row = dy + r * d; for j in 0..<d { gb[j] += row[j] } }
        // down: dyᵀ · h (dim × width).
        Sgemm.multiply(dy, transposeA: true, lda: d, h, ldb: w, m: d, n: w, k: rows, into: grad + 2 * w * d, ldc: w, pool: pool)
        // dh = dy · down (rows × width), into h (no longer needed).
        let dh = h
        Sgemm.multiply(dy, lda: d, p + 2 * w * d, ldb: w, m: rows, n: w, k: d, into: dh, ldc: w, pool: pool)
        // du = dh ⊙ silu(g) (into u's place after reading u), dg = dh ⊙ u ⊙ silu'(g).
        for i in 0..<(rows * w) {
            let gi = g[i], s = 1 / (1 + exp(-gi)), ui = u[i], dhi = dh[i]
            u[i] = dhi * gi * s
            g[i] = dhi * ui * s * (1 + gi * (1 - s))
        }
        // gate: dgᵀ · x, up: duᵀ · x (width × dim).
        Sgemm.multiply(g, transposeA: true, lda: w, x, ldb: d, m: w, n: d, k: rows, into: grad, ldc: d, pool: pool)
        Sgemm.multiply(u, transposeA: true, lda: w, x, ldb: d, m: w, n: d, k: rows, into: grad + w * d, ldc: d, pool: pool)
        return loss
    }
}
