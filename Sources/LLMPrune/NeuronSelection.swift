import LLMRuntime

/// Which units of one sub-layer stay, with the masks (if any) to fold into its output projection.
public struct UnitSelection: Sendable {
    public var kept: [Int]
    public var masks: [Float]?
    public var stoppedEarly = false
    /// Re-fitted output-projection columns over the kept units, (dim, kept) row-major.
    public var refitted: [Float]?
    /// Bias to add to the output projection (dim), when compensating means.
    public var bias: [Float]?
}

/// Chooses KV groups and MLP channels for each method from what one layer did on the
/// calibration tokens.
struct NeuronSelector {
    let settings: PruneSettings
    let config: ModelConfig
    let pool: ThreadPool

    /// Keeps `keep` of the layer's KV groups. `heads` holds the attention heads' outputs (the
    /// input of `wo`) for every calibration token.
    func selectGroups(weights w: LayerWeights, shape s: LayerShape, heads: Activations, keep: Int) -> UnitSelection {
        let groups = s.kvHeadCount, hd = config.headDim
        let group = s.headCount / max(groups, 1)
        let qDim = s.headCount * hd, dim = config.hiddenSize
        guard keep < groups, let wo = w.wo else { return UnitSelection(kept: Array(0..<groups)) }
        let woF = wo.dequantized()  // (dim, qDim)
        func columns(_ u: Int) -> Range<Int> { (u * group * hd)..<((u + 1) * group * hd) }

        switch settings.method {
        case .comp:
            // Z_u = wo[:, cols_u] · A[:, cols_u]ᵀ per token; G_uv = Σ_t Z_u·Z_v.
            var z = [[Float]](repeating: [Float](repeating: 0, count: heads.rows * dim), count: groups)
            for u in 0..<groups {
                let cols = columns(u)
                z[u].withUnsafeMutableBufferPointer { zu in
                    pool.parallelFor(heads.rows) { r, _ in
                        let a = heads.row(r)
                        let out = zu.baseAddress! + r * dim
                        for d in 0..<dim {
                            var acc: Float = 0
                            let wrow = woF.withUnsafeBufferPointer { $0.baseAddress! + d * qDim }
                            for c in cols { acc += wrow[c] * a[c] }
                            out[d] = acc
                        }
                    }
                }
            }
            var g = [Double](repeating: 0, count: groups * groups)
            for u in 0..<groups {
                for v in u..<groups {
                    var acc = 0.0
                    for i in 0..<(heads.rows * dim) { acc += Double(z[u][i] * z[v][i]) }
                    g[u * groups + v] = acc
                    g[v * groups + u] = acc
                }
            }
            // As for MLP channels: with a bias making up the removed groups' mean output, the
            // masks fit the groups' fluctuations, G̃_uv = G_uv − N·z̄_u·z̄_v.
            let tokens = Double(heads.rows)
            let zMean: [[Double]]? = settings.biasCompensation ? z.map { zu in
                var mean = [Double](repeating: 0, count: dim)
                for r in 0..<heads.rows { for d in 0..<dim { mean[d] += Double(zu[r * dim + d]) } }
                return mean.map { $0 / tokens }
            } : nil
            if let zMean {
                for u in 0..<groups {
                    for v in 0..<groups {
                        var dot = 0.0
                        for d in 0..<dim { dot += zMean[u][d] * zMean[v][d] }
                        g[u * groups + v] -= tokens * dot
                    }
                }
            }
            let result = MaskTuner.eliminate(UnitSystem(gram: g, n: groups), keep: keep, granularity: 1,
                                             ridge: settings.ridge, stepFraction: 0, maskVarianceBound: settings.maskVarianceBound)
            // bias = Σ_u z̄_u · (1 − m_u), m_u = 0 for removed groups.
            let bias = zMean.map { zMean in
                let share = result.leftOutShares(of: groups)
                return (0..<dim).map { d in Float((0..<groups).reduce(0.0) { $0 + zMean[$1][d] * share[$1] }) }
            }
            return UnitSelection(kept: result.kept, masks: result.masks.map(Float.init), stoppedEarly: result.stoppedEarly,
                                 bias: bias)
        case .magnitude, .wandaSP, .flap, .layers:
            let stats = ColumnStatistics(heads, columns: qDim)
            let wq = w.wq?.dequantized() ?? [], wk = w.wk?.dequantized() ?? [], wv = w.wv?.dequantized() ?? []
            let scores: [Double] = (0..<groups).map { u in
                var score = 0.0
                for c in columns(u) {
                    var abs = 0.0, sq = 0.0
                    for d in 0..<dim { let x = Double(woF[d * qDim + c]); abs += x.magnitude; sq += x * x }
                    switch settings.method {
                    case .wandaSP: score += abs * stats.norm(c)
                    case .flap: score += stats.variance(c) * sq
                    default:
                        score += sq
                        for i in 0..<dim { let x = Double(wq[c * dim + i]); score += x * x }
                    }
                }
                if settings.method == .magnitude || settings.method == .layers {
                    for r in (u * hd)..<((u + 1) * hd) {
                        for i in 0..<dim {
                            let k = Double(wk[r * dim + i]), v = Double(wv[r * dim + i])
                            score += k * k + v * v
                        }
                    }
                }
                return score
            }
            return UnitSelection(kept: topIndices(scores, keep))
        }
    }

    /// Keeps `keep` MLP channels. `hidden` holds silu(gate)·up (the input of `down`) for every
    /// token; `drift`, when given, what COMP should add to the dense MLP's output (tokens, dim).
    func selectChannels(weights w: LayerWeights, shape s: LayerShape, hidden: Activations, keep: Int,
                        drift: Activations? = nil) -> UnitSelection {
        let ff = s.feedForwardLength, dim = config.hiddenSize
        guard keep < ff, let down = w.down else { return UnitSelection(kept: Array(0..<ff)) }
        let downF = down.dequantized()  // (dim, ff)

        switch settings.method {
        case .comp:
            // Plain least squares: every token and every output dimension counts alike. Weighting
            // them by how the later blocks read the stream (tokens by 1/mean square of the stream,
            // dimensions by the later norms' gains or by those times their readers' column
            // energies) moved SmolLM2-135M's wiki perplexity at 0.2 from 38.99 to 38.77, 38.51
            // and 38.68: within a calibration slice's noise, so the objective stays plain.
            // The system is ff x ff; beyond `maxSystemSize` channels it is solved in independent
            // blocks (cross-block correlations ignored) so its memory stays within the budget.
            let blockCount = (ff + settings.maxSystemSize - 1) / settings.maxSystemSize
            var kept: [Int] = [], masks: [Float] = []
            var stopped = false
            let g = settings.channelGranularity
            var keepLeft = keep
            let centring = settings.biasCompensation ? ColumnStatistics(hidden, columns: ff) : nil
            let driftMean = settings.biasCompensation ? drift.map { ColumnStatistics($0, columns: dim).mean } : nil
            var bias = [Float](repeating: 0, count: dim)
            for b in 0..<blockCount {
                let lo = b * ff / blockCount / g * g, hi = b == blockCount - 1 ? ff : (b + 1) * ff / blockCount / g * g
                let n = hi - lo
                let blockKeep = b == blockCount - 1 ? keepLeft : max(g, (keep * n / ff + g / 2) / g * g)
                keepLeft -= blockKeep
                var hth = GramMatrix.compute(hidden.pointer + lo, rows: hidden.rows, n: n, ld: hidden.width, pool: pool)
                // Hᵀ·drift, (n, dim): how each channel's activation lines up with the drift.
                var htd = drift.map {
                    GramMatrix.cross(hidden.pointer + lo, ldx: hidden.width, $0.pointer, ldy: dim,
                                     rows: hidden.rows, n: n, m: dim, pool: pool)
                }
                if settings.compensation == .refit && blockCount == 1 {
                    let r = ColumnRefit.prune(gram: hth, weights: downF, rows: dim, n: ff, keep: blockKeep, granularity: g,
                                              ridge: settings.ridge, stepFraction: settings.stepFraction,
                                              correction: htd, pool: pool)
                    return UnitSelection(kept: r.kept, masks: nil, refitted: r.weights)
                }
                // With a bias making up the mean of what the masks leave out, the masks fit the
                // channels' fluctuations: the same system over mean-centred activations
                // (H̃ᵀH̃ = HᵀH − N·h̄h̄ᵀ, H̃ᵀD = HᵀD − N·h̄D̄ᵀ).
                let hMean = centring.map { $0.columnMeans(from: lo, count: n) }
                if let hMean {
                    let tokens = Double(hidden.rows)
                    for i in 0..<n { for k in 0..<n { hth[i * n + k] -= tokens * hMean[i] * hMean[k] } }
                    if let dMean = driftMean, var cross = htd {
                        for i in 0..<n { for d in 0..<dim { cross[i * dim + d] -= tokens * hMean[i] * dMean[d] } }
                        htd = cross
                    }
                }
                var sys = downF.withUnsafeBufferPointer { GramMatrix.compute($0.baseAddress! + lo, rows: dim, n: n, ld: ff, pool: pool) }
                for i in 0..<(n * n) { sys[i] *= hth[i] }
                var system = UnitSystem(gram: sys, n: n)
                let share = Double(n) / Double(ff)
                if let htd {
                    // Blocks are solved independently, so each makes up only its share of the
                    // drift: where channels of different blocks fire together along shared
                    // directions (Qwen's few huge activations), each block could make up all of
                    // it, and together they added it once per block (Qwen2.5-1.5B: perplexity
                    // in the millions).
                    downF.withUnsafeBufferPointer {
                        system.addDrift(columns: $0.baseAddress! + lo, ld: ff, rows: dim, crossProducts: htd, share: share)
                    }
                }
                let result = MaskTuner.eliminate(system, keep: blockKeep, granularity: g,
                                                 ridge: settings.ridge, stepFraction: settings.stepFraction,
                                                 maskVarianceBound: settings.maskVarianceBound, pool: pool)
                if let hMean {
                    // bias += W_block · (h̄ ⊙ (1 − m)), m = 0 for removed channels. The drift's
                    // mean is left out: adding it too measured worse on every calibration slice
                    // (SmolLM2-135M at 0.2: 37.40 / 39.30 / 40.76 against 35.34 / 36.39 / 38.69).
                    let scale = zip(hMean, result.leftOutShares(of: n)).map { $0 * $1 }
                    for d in 0..<dim {
                        var acc = 0.0
                        for j in 0..<n { acc += Double(downF[d * ff + lo + j]) * scale[j] }
                        bias[d] += Float(acc)
                    }
                }
                kept += result.kept.map { $0 + lo }
                masks += result.masks.map(Float.init)
                stopped = stopped || result.stoppedEarly
            }
            return UnitSelection(kept: kept, masks: masks, stoppedEarly: stopped, bias: centring != nil ? bias : nil)
        case .magnitude, .wandaSP, .flap, .layers:
            let stats = ColumnStatistics(hidden, columns: ff)
            var gateF: [Float] = [], upF: [Float] = []
            if settings.method == .magnitude || settings.method == .layers {
                gateF = w.gate?.dequantized() ?? []
                upF = w.up?.dequantized() ?? []
            }
            var abs = [Double](repeating: 0, count: ff), sq = [Double](repeating: 0, count: ff)
            for d in 0..<dim {
                for j in 0..<ff {
                    let x = Double(downF[d * ff + j])
                    abs[j] += x.magnitude
                    sq[j] += x * x
                }
            }
            let scores: [Double] = (0..<ff).map { j in
                switch settings.method {
                case .wandaSP: return abs[j] * stats.norm(j)
                case .flap: return stats.variance(j) * sq[j]
                default:
                    var s = sq[j]
                    for i in 0..<dim {
                        let g = Double(gateF[j * dim + i]), u = Double(upF[j * dim + i])
                        s += g * g + u * u
                    }
                    return s
                }
            }
            return UnitSelection(kept: topIndices(scores, keep))
        }
    }

    /// The `k` highest-scoring indices, ascending.
    private func topIndices(_ scores: [Double], _ k: Int) -> [Int] {
        Array(scores.indices.sorted { scores[$0] > scores[$1] }.prefix(k)).sorted()
    }
}
