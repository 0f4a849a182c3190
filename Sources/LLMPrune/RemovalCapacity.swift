import LLMRuntime

/// How much of a model a method can remove at all. Asking for more used to run to the end and
/// leave a model short of its target with every MLP cut to its floor (Gemma-3-270M planned at
/// 29.3% reached 26.0%, each MLP at 32 of 2048 channels): useless, and over its budget.
extension PruneSettings {
    /// Whether a run at `ratio` can remove everything it is asked to, given how the pruner
    /// splits the target: whole blocks first (never the first or the last), then the rest as KV
    /// groups (`attentionShare` of it, never a block's last group) and MLP channels (whole
    /// granules, never below a block's floor). Which blocks are dropped is only known after
    /// calibration, so they are counted as blocks of mean size.
    public func canReach(ratio: Double, config: ModelConfig, totalParameters: Int) -> Bool {
        let counter = ParameterCount(config: config)
        let layerParams = config.layers.map { counter.layer($0) }
        let blocks = layerParams.count
        guard blocks > 0, ratio > 0 else { return true }
        let meanLayer = Double(layerParams.reduce(0, +)) / Double(blocks)
        let target = Double(Int(ratio * Double(totalParameters)))
        let dropped = blocksToDrop(ratio: ratio, totalParameters: totalParameters, layerParameters: layerParams)
        let neurons = max(0, target - Double(dropped) * meanLayer)
        if method == .layers {
            // Only whole blocks; half a mean block is what rounding the block count may miss.
            return neurons <= meanLayer / 2
        }
        let keptShare = Double(blocks - dropped) / Double(blocks)
        let attention = neurons * attentionShare
        let mlp = neurons - attention

        var groupCapacity = 0.0
        if attention > 0 {
            for s in config.layers where s.kvHeadCount > 1 {
                groupCapacity += Double((s.kvHeadCount - 1) * counter.attentionGroup(queryHeadsPerGroup: s.headCount / s.kvHeadCount))
            }
        }
        let g = channelGranularity
        let widths = config.layers.map(\.feedForwardLength)
        var granules = 0
        if uniformShapes {
            granules = widths.isEmpty ? 0 : max(0, (widths.min()! - g) / g) * blocks
        } else {
            for f in widths { granules += max(0, (f - mlpFloor(width: f)) / g) }
        }
        let needed = mlpGranules(removing: Int(mlp), channelParameters: counter.mlpChannel)
        return attention <= groupCapacity * keptShare && Double(needed) <= Double(granules) * keptShare
    }

    /// The largest ratio, in steps of 0.1%, that `canReach` accepts (checked upward from zero, so
    /// a gap where rounding the dropped-block count helps is not mistaken for headroom).
    public func maximumRatio(config: ModelConfig, totalParameters: Int) -> Double {
        var best = 0.0
        for step in 1...1000 {
            let r = Double(step) / 1000
            guard canReach(ratio: r, config: config, totalParameters: totalParameters) else { break }
            best = r
        }
        return best
    }

    /// Whole granules of MLP channels that removing `parameters` asks for (rounded to nearest).
    func mlpGranules(removing parameters: Int, channelParameters: Int) -> Int {
        (parameters / channelParameters + channelGranularity / 2) / channelGranularity
    }

    /// The fewest MLP channels a block of `width` keeps when shapes may differ.
    func mlpFloor(width: Int) -> Int {
        let g = channelGranularity
        return max(g, Int(Double(width) * (1 - maxLayerChannelShare)) / g * g)
    }

    /// A sentence on why a ratio cannot be reached and what would reach it.
    public func unreachableExplanation(ratio: Double, config: ModelConfig, totalParameters: Int) -> String {
        let most = maximumRatio(config: config, totalParameters: totalParameters)
        let pct = { (r: Double) in String(format: "%.1f%%", r * 100) }
        var how: String
        switch method {
        case .layers:
            how = "it drops whole blocks only, never the first or the last"
        default:
            how = uniformShapes
                ? "this architecture keeps every block the same shape, so no MLP shrinks below \(channelGranularity) channels and attention is kept whole"
                : "no block loses more than \(Int(maxLayerChannelShare * 100))% of its MLP channels"
            if effectiveLayerShare > 0 { how += ", and \(Int(effectiveLayerShare * 100))% of the target is taken as whole blocks" }
        }
        return "\(method.rawValue) can remove at most \(pct(most)) of this model's parameters, not \(pct(ratio)): \(how)"
    }
}
