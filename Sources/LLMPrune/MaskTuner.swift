import CKernels
import LLMRuntime

/// The least-squares system of a sub-layer's output projection over its units (MLP channels or
/// KV groups): minimise ‖Σ_j m_j Z_j − Y‖² where Z_j is unit j's contribution to the output.
/// `g = ZᵀZ` (n × n, row-major) and `c = ZᵀY`.
public struct UnitSystem: Sendable {
    public let n: Int
    public var g: [Double]
    public var c: [Double]

    public init(n: Int, g: [Double], c: [Double]) {
        precondition(g.count == n * n && c.count == n)
        self.n = n
        self.g = g
        self.c = c
    }

    /// When the target is the dense output itself, `c = G·1`.
    public init(gram: [Double], n: Int) {
        var c = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = 0.0
            for j in 0..<n { s += gram[i * n + j] }
            c[i] = s
        }
        self.init(n: n, g: gram, c: c)
    }

    /// Moves the target from the dense output to the dense output plus a drift D (tokens, rows):
    /// c_j += Σ_t Z_j,t · D_t = W_:,j · (Hᵀ·D)_j, where Z_j,t = h_t,j · W_:,j.
    /// - Parameters:
    ///   - columns: W, (rows, n) with leading dimension `ld`.
    ///   - crossProducts: Hᵀ·D, (n, rows) row-major.
    ///   - share: the fraction of D these units are to make up (1 when they are all of the layer's).
    public mutating func addDrift(columns w: UnsafePointer<Float>, ld: Int, rows: Int, crossProducts htd: [Double], share: Double = 1) {
        precondition(htd.count == n * rows)
        for j in 0..<n {
            var extra = 0.0
            for d in 0..<rows { extra += Double(w[d * ld + j]) * htd[j * rows + d] }
            c[j] += share * extra
        }
    }
}

/// What the elimination kept and why.
public struct MaskTuningResult: Sendable {
    /// Kept unit indices, ascending.
    public var kept: [Int]
    /// The tuned mask of each kept unit (same order as `kept`).
    public var masks: [Double]
    /// Removed units in the order they went, with the reconstruction cost each was scored at.
    public var removed: [(unit: Int, cost: Double)]
    /// True when the mask-variance bound stopped the layer before its target.
    public var stoppedEarly: Bool
    public var maskMean: Double { masks.isEmpty ? 0 : masks.reduce(0, +) / Double(masks.count) }
    /// Per unit of the `n`, the share of its output the masks leave out: 1 − m for a kept unit,
    /// 1 for a removed one. The mean-compensating bias is Σ_u mean output_u · share_u.
    public func leftOutShares(of n: Int) -> [Double] {
        var share = [Double](repeating: 1, count: n)
        for (pos, u) in kept.enumerated() { share[u] = 1 - masks[pos] }
        return share
    }
    public var maskVariance: Double {
        guard !masks.isEmpty else { return 0 }
        let m = maskMean
        return masks.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(masks.count)
    }
}

/// COMP's neuron selection: repeatedly remove the units whose loss costs least once the others
/// are re-tuned — cost_j = m_j² / [G⁻¹]_jj, small where unit j is nearly a combination of the
/// others (G ill-conditioned along it) — in small steps, re-solving the ridge-regularised masks
/// `G_S m = c_S` after each step.
public enum MaskTuner {
    /// - Parameters:
    ///   - keep: units to keep at the end.
    ///   - granularity: the kept count stays a multiple of this at every step boundary where the
    ///     layer may stop (32 for MLP channels, 1 for KV groups).
    public static func eliminate(_ system: UnitSystem, keep target: Int, granularity: Int = 1,
                                 ridge: Double, stepFraction: Double, maskVarianceBound: Double,
                                 pool: ThreadPool? = nil) -> MaskTuningResult {
        let n = system.n
        var (inverse, lambda) = regularizedInverse(system.g, n: n, ridge: ridge, pool: pool)
        // The ridge pulls the masks toward 1 (the unpruned layer), not toward 0:
        // (G + λI) m = c + λ·1.
        let c = system.c.map { $0 + lambda }
        var kept = Array(0..<n)
        var masks = solve(inverse, n: n, c: c, kept: kept)
        var removed: [(Int, Double)] = []
        var stoppedEarly = false
        let goal = max(0, min(target, n))

        while kept.count > goal {
            // Step to the next multiple of the granularity, at least stepFraction of what is left.
            var step = max(1, Int(stepFraction * Double(kept.count)))
            var next = max(goal, kept.count - step)
            if granularity > 1 { next = max(goal, (next / granularity) * granularity) }
            step = kept.count - next
            if step <= 0 { break }

            // Score once per step, then remove the cheapest one by one with exact downdates.
            let scored = kept.enumerated().map { (pos, j) -> (Int, Double) in
                let d = inverse[j * n + j]
                return (j, d > 0 ? masks[pos] * masks[pos] / d : 0)
            }.sorted { $0.1 < $1.1 }
            let victims = scored.prefix(step)
            var keptSet = Set(kept)
            for (j, cost) in victims {
                keptSet.remove(j)
                removed.append((j, cost))
            }
            downdate(&inverse, n: n, keep: keptSet.sorted().map(Int32.init), removing: victims.map(\.0), pool: pool)
            let previousKept = kept, previousMasks = masks
            kept = keptSet.sorted()
            masks = solve(inverse, n: n, c: c, kept: kept)
            if variance(masks) > maskVarianceBound {
                // Undo this step: the remaining units can no longer stand in for the removed ones.
                kept = previousKept
                masks = previousMasks
                removed.removeLast(victims.count)
                stoppedEarly = true
                break
            }
        }
        return MaskTuningResult(kept: kept, masks: masks, removed: removed, stoppedEarly: stoppedEarly)
    }

    /// Removes several units from the inverse at once (one Schur complement of their block, the
    /// same as removing them one by one but reading each kept row once instead of once per unit).
    static func downdate(_ inverse: inout [Double], n: Int, keep: [Int32], removing drop: [Int], pool: ThreadPool?) {
        let nd = drop.count
        guard nd > 1 else {
            if let j = drop.first { downdate(&inverse, n: n, keep: keep, removing: j, pool: pool) }
            return
        }
        // C⁻¹, the inverse of the dropped units' block.
        var block = [Double](repeating: 0, count: nd * nd)
        for (a, i) in drop.enumerated() { for (b, j) in drop.enumerated() { block[a * nd + b] = inverse[i * n + j] } }
        var scratch = [Double](repeating: 0, count: nd * nd)
        let ok = block.withUnsafeMutableBufferPointer { b in
            scratch.withUnsafeMutableBufferPointer { SymmetricInverse.invert(b.baseAddress!, n: nd, scratch: $0.baseAddress!, pool: nil) }
        }
        guard ok else {
            // Not numerically positive definite: fall back to exact one-by-one removal.
            var rest = Set(keep.map(Int.init)).union(drop)
            for j in drop {
                rest.remove(j)
                downdate(&inverse, n: n, keep: rest.sorted().map(Int32.init), removing: j, pool: pool)
            }
            return
        }
        let dropped = drop.map(Int32.init)
        let parts = pool.map { keep.count >= 64 ? $0.threadCount * 4 : 1 } ?? 1
        let per = (keep.count + parts - 1) / parts
        inverse.withUnsafeMutableBufferPointer { a in
            keep.withUnsafeBufferPointer { r in
                dropped.withUnsafeBufferPointer { d in
                    block.withUnsafeBufferPointer { c in
                        let aBase = a.baseAddress!, rows = r.baseAddress!, count = r.count
                        let dBase = d.baseAddress!, cBase = c.baseAddress!
                        let body: (Int) -> Void = { p in
                            let lo = p * per, hi = min(count, lo + per)
                            guard lo < hi else { return }
                            var u = [Double](repeating: 0, count: nd)
                            u.withUnsafeMutableBufferPointer {
                                lr_inverse_downdate_block_f64(aBase, Int32(n), rows + lo, Int32(hi - lo),
                                                              dBase, Int32(nd), cBase, $0.baseAddress!)
                            }
                        }
                        if let pool, parts > 1 { pool.parallelFor(parts) { p, _ in body(p) } } else { body(0) }
                    }
                }
            }
        }
    }

    /// Removes unit `j` from the inverse, the kept rows split over the pool (rows are independent).
    static func downdate(_ inverse: inout [Double], n: Int, keep: [Int32], removing j: Int, pool: ThreadPool?) {
        inverse.withUnsafeMutableBufferPointer { a in
            keep.withUnsafeBufferPointer { r in
                let base = a.baseAddress!, rows = r.baseAddress!
                guard let pool, r.count >= 256 else {
                    lr_inverse_downdate_f64(base, Int32(n), rows, Int32(r.count), Int32(j))
                    return
                }
                let parts = pool.threadCount * 2
                let per = (r.count + parts - 1) / parts
                pool.parallelFor(parts) { p, _ in
                    let lo = p * per, hi = min(r.count, lo + per)
                    if lo < hi { lr_inverse_downdate_f64(base, Int32(n), rows + lo, Int32(hi - lo), Int32(j)) }
                }
            }
        }
    }

    /// (G + λI)⁻¹ with λ = ridge × mean diagonal, and that λ; the ridge grows until the
    /// factorisation succeeds.
    static func regularizedInverse(_ g: [Double], n: Int, ridge: Double, pool: ThreadPool? = nil) -> (inverse: [Double], lambda: Double) {
        var meanDiag = 0.0
        for i in 0..<n { meanDiag += g[i * n + i] }
        meanDiag = max(meanDiag / Double(max(n, 1)), 1e-12)
        var lambda = ridge * meanDiag
        var scratch = [Double](repeating: 0, count: n * n)
        while true {
            var a = g
            for i in 0..<n { a[i * n + i] += lambda }
            let ok = a.withUnsafeMutableBufferPointer { p in
                scratch.withUnsafeMutableBufferPointer { SymmetricInverse.invert(p.baseAddress!, n: n, scratch: $0.baseAddress!, pool: pool) }
            }
            if ok { return (a, lambda) }
            lambda = max(lambda * 10, 1e-12)
        }
    }

    /// m_S = (A⁻¹)_SS c_S, valid because the downdated inverse is the inverse of A_SS.
    static func solve(_ inverse: [Double], n: Int, c: [Double], kept: [Int]) -> [Double] {
        kept.map { i in
            var s = 0.0
            for j in kept { s += inverse[i * n + j] * c[j] }
            return s
        }
    }

    static func variance(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        let m = v.reduce(0, +) / Double(v.count)
        return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)
    }
}
