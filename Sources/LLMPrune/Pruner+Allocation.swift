import Foundation
import GGUF
import LLMRuntime

/// What pass 1 measured and how the removal is spread over the blocks.
struct PruneAllocation {
    /// Parameters to remove in all.
    var target: Int
    /// Per block: 1 − cos(input, output) on the dense model (zeros when not measured).
    var importance: [Double]
    var importanceMeasured: Bool
    var importanceSeconds: Double
    var layerParameters: [Int]
    var dropped: [Int]
    var droppedSet: Set<Int>
    var kept: [Int]
    /// MLP channels each kept block keeps, in the order of `kept`.
    var channelKeep: [Int]
    /// KV groups each kept block keeps (absent: untouched).
    var groupKeep: [Int: Int]
    /// COMP tunes each MLP toward the dense stream (the dense model runs alongside).
    var streamTarget: Bool
    /// The refit is fed the dense model's activations (the dense model runs alongside).
    var denseInputs: Bool
}

extension Pruner {
    /// Pass 1: each block's importance on the dense model, where the allocation needs it (it
    /// drops blocks and steers where COMP's neurons go).
    func measureImportance(_ run: PruneRun) throws -> (scores: [Double], measured: Bool, seconds: Double) {
        let blocks = config.blockCount
        var importance = [Double](repeating: 0, count: blocks)
        let target = Int(settings.ratio * Double(totalParameters))
        let dropCount = settings.blocksToDrop(ratio: settings.ratio, totalParameters: totalParameters,
                                              layerParameters: config.layers.map { counter.layer($0) })
        // (Nothing to remove — a budget met by formats alone — needs no importance either.)
        let needed = dropCount > 0 || (target > 0 && settings.method == .comp && settings.allocationExponent != 0)
        if needed {
            let x = run.runner.embed(run.embedding)
            for l in 0..<blocks {
                try run.checkStop("pass 1 (block importance)", l)
                run.report("pass 1: block importance", l)
                let w = try LayerWeights(file: source, config: config, layer: l)
                let before = x.copy()
                run.runner.apply(.attention, layer: l, weights: w, shape: config.layers[l], to: x)
                run.runner.apply(.feedForward, layer: l, weights: w, shape: config.layers[l], to: x)
                importance[l] = 1 - LayerImportance.meanCosine(before, x)
                run.release(l)
            }
        }
        return (importance, needed, Clock.now() - run.started)
    }

    /// The removal spread over the blocks: the least important whole blocks for the layer share,
    /// then the neuron part split between KV groups and MLP channels, per block.
    func allocate(_ measured: (scores: [Double], measured: Bool, seconds: Double)) -> PruneAllocation {
        let importance = measured.scores
        let target = Int(settings.ratio * Double(totalParameters))
        let layerParams = config.layers.map { counter.layer($0) }
        let dropCount = settings.blocksToDrop(ratio: settings.ratio, totalParameters: totalParameters, layerParameters: layerParams)
        let dropped = LayerImportance.layersToDrop(scores: importance, count: dropCount)
        let droppedSet = Set(dropped)
        let kept = (0..<config.blockCount).filter { !droppedSet.contains($0) }

        let removedByLayers = dropped.reduce(0) { $0 + layerParams[$1] }
        let neuronTarget = max(0, target - removedByLayers)
        let attentionTarget = settings.method == .layers ? 0 : Int(Double(neuronTarget) * settings.attentionShare)
        let mlpTarget = settings.method == .layers ? 0 : neuronTarget - attentionTarget
        let weighted = measured.measured && settings.method == .comp
        let channelKeep = mlpKeepCounts(kept: kept, removeParameters: mlpTarget,
                                        weights: weighted ? kept.map { pow(max(importance[$0], 1e-6), -settings.allocationExponent) } : nil)
        let groupKeep = groupKeepCounts(kept: kept, removeParameters: attentionTarget, importance: importance)
        return PruneAllocation(target: target, importance: importance, importanceMeasured: measured.measured,
                               importanceSeconds: measured.seconds, layerParameters: layerParams,
                               dropped: dropped, droppedSet: droppedSet, kept: kept, channelKeep: channelKeep, groupKeep: groupKeep,
                               streamTarget: settings.method == .comp && settings.effectiveTarget == .stream,
                               denseInputs: settings.refit.steps > 0 && settings.refit.input == .dense)
    }

    /// MLP channels each kept block keeps, in whole multiples of the row granularity and never
    /// below one granule. Without weights the removal is spread evenly; with weights, a block's
    /// share of it is proportional to its weight (capped at `maxLayerChannelShare` of its channels).
    func mlpKeepCounts(kept: [Int], removeParameters: Int, weights: [Double]? = nil) -> [Int] {
        let g = settings.channelGranularity
        var remaining = settings.mlpGranules(removing: removeParameters, channelParameters: counter.mlpChannel)
        var keep = kept.map { config.layers[$0].feedForwardLength }
        if settings.uniformShapes, !kept.isEmpty {
            // The same number of granules from every block (rounded down).
            let each = min(remaining / kept.count, (keep.min()! - g) / g)
            return keep.map { $0 - each * g }
        }
        let floor = keep.map { settings.mlpFloor(width: $0) }
        let w = weights ?? Array(repeating: 1, count: kept.count)
        // Hand out granules one at a time to the block furthest below its weighted share.
        var removed = [Int](repeating: 0, count: kept.count)
        let totalWeight = w.reduce(0, +)
        while remaining > 0 {
            var best = -1, bestDeficit = -Double.infinity
            for i in keep.indices where keep[i] - g >= floor[i] {
                let deficit = w[i] / totalWeight - Double(removed[i]) / Double(max(1, removed.reduce(0, +) + 1))
                if deficit > bestDeficit { bestDeficit = deficit; best = i }
            }
            if best < 0 { break }
            keep[best] -= g
            removed[best] += 1
            remaining -= 1
        }
        return keep
    }

    /// KV groups each kept block keeps (nil: untouched), removing groups from the least
    /// important blocks first, at most one per block per round, never the last group.
    func groupKeepCounts(kept: [Int], removeParameters: Int, importance: [Double]) -> [Int: Int] {
        guard removeParameters > 0 else { return [:] }
        var keep: [Int: Int] = [:]
        for l in kept { keep[l] = config.layers[l].kvHeadCount }
        let order = kept.sorted { importance[$0] < importance[$1] }
        var remaining = removeParameters
        var progressed = true
        while remaining > 0 && progressed {
            progressed = false
            for l in order where remaining > 0 {
                let s = config.layers[l]
                guard let k = keep[l], k > 1 else { continue }
                keep[l] = k - 1
                remaining -= counter.attentionGroup(queryHeadsPerGroup: s.headCount / max(s.kvHeadCount, 1))
                progressed = true
            }
        }
        return keep
    }
}
