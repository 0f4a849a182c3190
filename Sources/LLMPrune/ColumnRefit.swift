import CKernels
import LLMRuntime

/// Channel removal with a least-squares re-fit of the output projection (structured optimal
/// brain surgeon): with G = HᵀH over the projection's inputs, removing input channel j costs
/// ‖W_:,j‖² / [G⁻¹]_jj once every remaining column is updated by −W_:,j · G⁻¹_j,S / G⁻¹_jj.
/// Where COMP's masks give each kept channel one scale, this moves whole columns, so the kept
/// channels can also stand in for removed ones they are not parallel to.
public enum ColumnRefit {
    public struct Result {
        public var kept: [Int]
        /// The re-fitted projection over the kept channels, (rows, kept.count) row-major.
        public var weights: [Float]
    }

    /// - Parameters:
    ///   - gram: HᵀH (n × n, f64).
    ///   - weights: the projection, (rows, n) row-major.
    ///   - correction: Hᵀ·D, (n, rows) row-major, when the target is W·H + D rather than W·H:
    ///     the full projection is first moved to its ridge least-squares fit of that target,
    ///     Wᵀ + (G + λI)⁻¹·HᵀD, and pruned from there (the rest of the error is orthogonal to
    ///     every column of H, so no removal can reduce it).
    public static func prune(gram: [Double], weights: [Float], rows: Int, n: Int, keep target: Int,
                             granularity: Int, ridge: Double, stepFraction: Double,
                             correction: [Double]? = nil, pool: ThreadPool? = nil) -> Result {
        var inverse = MaskTuner.regularizedInverse(gram, n: n, ridge: ridge, pool: pool).inverse
        // Columns of W as contiguous rows: wt[j] = W[:, j].
        var wt = [Double](repeating: 0, count: n * rows)
        for r in 0..<rows { for j in 0..<n { wt[j * rows + r] = Double(weights[r * n + j]) } }
        if let correction {
            inverse.withUnsafeBufferPointer { inv in
                correction.withUnsafeBufferPointer { m in
                    wt.withUnsafeMutableBufferPointer { w in
                        let wBase = w.baseAddress!, mBase = m.baseAddress!, iBase = inv.baseAddress!
                        let body: (Int) -> Void = { j in
                            let wj = wBase + j * rows
                            for k in 0..<n {
                                let f = iBase[j * n + k]
                                let mk = mBase + k * rows
                                for r in 0..<rows { wj[r] += f * mk[r] }
                            }
                        }
                        if let pool { pool.parallelFor(n) { j, _ in body(j) } } else { for j in 0..<n { body(j) } }
                    }
                }
            }
        }
        var kept = Array(0..<n)
        let goal = max(0, min(target, n))
        while kept.count > goal {
            var next = max(goal, kept.count - max(1, Int(stepFraction * Double(kept.count))))
            if granularity > 1 { next = max(goal, next / granularity * granularity) }
            let step = kept.count - next
            if step <= 0 { break }
            for _ in 0..<step {
                // Exact greedy: rescore after every removal (the update changes the columns).
                var best = -1, bestCost = Double.infinity
                for j in kept {
                    var norm = 0.0
                    for r in 0..<rows { norm += wt[j * rows + r] * wt[j * rows + r] }
                    let cost = norm / max(inverse[j * n + j], 1e-30)
                    if cost < bestCost { bestCost = cost; best = j }
                }
                let j = best
                let djj = inverse[j * n + j]
                kept.removeAll { $0 == j }
                wt.withUnsafeMutableBufferPointer { w in
                    let wj = w.baseAddress! + j * rows
                    for i in kept {
                        let f = inverse[i * n + j] / djj
                        if f == 0 { continue }
                        let wi = w.baseAddress! + i * rows
                        for r in 0..<rows { wi[r] -= f * wj[r] }
                    }
                }
                MaskTuner.downdate(&inverse, n: n, keep: kept.map(Int32.init), removing: j, pool: pool)
            }
        }
        var out = [Float](repeating: 0, count: rows * kept.count)
        for (c, j) in kept.enumerated() { for r in 0..<rows { out[r * kept.count + c] = Float(wt[j * rows + r]) } }
        return Result(kept: kept, weights: out)
    }
}
