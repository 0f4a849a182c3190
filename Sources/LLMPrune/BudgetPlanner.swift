import Foundation
import GGUF
import LLMRuntime

/// What the planner decided for a memory budget.
public struct BudgetPlan: Sendable, Codable {
    public var budgetBytes: Int
    public var context: Int
    /// Fraction of all parameters to remove (0: none needed).
    public var ratio: Double
    public var outputType: String
    public var noPruningNeeded: Bool
    /// The pruned model's run-time footprint at `context`: weights + KV cache + scratch + runtime.
    public var estimatedFootprintBytes: Int
    public var denseFootprintBytes: Int
    /// The pruning process's own expected peak resident memory.
    public var estimatedProcessBytes: Int
    public var calibrationSamples: Int
    public var maxSystemSize: Int
    public var explanation: String
}

/// Turns a memory budget into a pruning target: the smallest ratio (with the largest output
/// format that allows a moderate ratio) whose run-time footprint fits, and calibration sizes
/// that keep the pruning process itself under the budget. Refuses before any work when no
/// plan fits.
public enum BudgetPlanner {
    /// Beyond this, structured pruning without fine-tuning leaves little of a model.
    public static let maxRatio = 0.6
    /// Binary, heap and stacks of a running llmrun, beyond the estimated buffers.
    public static let runtimeOverhead = 24_000_000

    static func bytesPerParameter(_ t: GGMLType) -> Double {
        switch t {
        case .q4_0: return 18.0 / 32
        case .q4_1: return 20.0 / 32
        case .f16: return 34.0 / 32 + 2  // converted to Q8_0 at load, file kept mapped
        default: return 34.0 / 32
        }
    }

    /// - Parameter residentBytes: what the process already holds (binary, source header,
    ///   tokenizer); the pruning run's own buffers come on top.
    public static func plan(file: GGUFFile, config: ModelConfig, budget: Int, context: Int,
                            requestedType: GGMLType?, settings: PruneSettings, residentBytes: Int = 0) throws -> BudgetPlan {
        // What the run will do for this architecture (uniform shapes, attention kept whole…).
        let settings = Pruner.adjusted(settings, for: config)
        let total = file.tensors.reduce(0) { $0 + $1.elementCount }
        let layerTensors = file.tensors.filter { $0.name.hasPrefix("blk.") }
        let layerParams = layerTensors.reduce(0) { $0 + $1.elementCount }
        let fixedWeights = MemoryEstimate(file: file, config: config, context: context).weightBytes
            - layerTensors.reduce(0) { $0 + ($1.shape.count == 1 ? $1.byteCount : WeightMatrix.kernelByteCount(of: $1)) }
        let dense = MemoryEstimate(file: file, config: config, context: context)
        let kv = dense.kvCacheBytes, scratch = dense.scratchBytes
        let denseFootprint = dense.totalBytes + runtimeOverhead
        let gb = { (b: Int) in ByteSize(bytes: b).description }

        func processPlan() throws -> (Int, Int, Int) {
            try BudgetPlanner.processPlan(config: config, budget: budget, settings: settings,
                                          embeddingBytes: file.tensor(named: "token_embd.weight")?.byteCount ?? 0,
                                          residentBytes: residentBytes)
        }
        if denseFootprint <= budget && requestedType == nil {
            let (samples, systemSize, processBytes) = try processPlan()
            return BudgetPlan(budgetBytes: budget, context: context, ratio: 0, outputType: "source", noPruningNeeded: true,
                              estimatedFootprintBytes: denseFootprint, denseFootprintBytes: denseFootprint,
                              estimatedProcessBytes: processBytes, calibrationSamples: samples, maxSystemSize: systemSize,
                              explanation: "the model already fits: \(gb(denseFootprint)) at -c \(context) within \(gb(budget)); no pruning needed")
        }
        let types: [GGMLType] = requestedType.map { [$0] } ?? [.q8_0, .q4_1, .q4_0]
        // Whole blocks dropped take their KV cache with them.
        let counter = ParameterCount(config: config)
        let blockParams = config.layers.map { counter.layer($0) }
        let blocks = max(config.blockCount, 1)
        func dropped(_ ratio: Double) -> Int {
            settings.blocksToDrop(ratio: ratio, totalParameters: total, layerParameters: blockParams)
        }
        // Embedding, norms, the kept blocks' KV cache, scratch, tokenizer and runtime: all but
        // block weights.
        func fixed(_ ratio: Double) -> Int {
            fixedWeights + kv * (blocks - dropped(ratio)) / blocks + scratch + dense.tokenizerBytes + runtimeOverhead
        }
        func footprint(_ ratio: Double, _ t: GGMLType) -> Int {
            fixed(ratio) + Int((Double(layerParams) - ratio * Double(total)) * bytesPerParameter(t))
        }
        var best: (GGMLType, Double, Int)?
        // The smallest fitting ratio of a format the method could not reach.
        var beyondReach: (GGMLType, Double)?
        for t in types {
            // The smallest ratio, in steps of 0.1%, that fits (the footprint falls as it grows).
            let steps = Int((maxRatio * 1000).rounded())
            guard let step = (0...steps).first(where: { footprint(Double($0) / 1000, t) <= budget }) else { continue }
            let ratio = Double(step) / 1000
            guard settings.canReach(ratio: ratio, config: config, totalParameters: total) else {
                // A narrower format needs less removed; a plan the method cannot carry out would
                // end over budget with every block at its floor.
                beyondReach = (t, ratio)
                continue
            }
            // Prefer the wider format while the ratio stays moderate; accept any fit last.
            let moderate = t == types.last ? maxRatio : 0.3
            if ratio <= moderate && ratio * Double(total) < Double(layerParams) * 0.9 {
                best = (t, ratio, footprint(ratio, t))
                break
            }
        }
        guard let (type, ratio, footprint) = best else {
            if let (t, ratio) = beyondReach {
                let why = settings.unreachableExplanation(ratio: ratio, config: config, totalParameters: total)
                throw PruneError.budgetInfeasible("\(gb(budget)) at -c \(context) needs \(String(format: "%.1f", ratio * 100))% of the parameters removed even writing \(t), but \(why). Raise --budget, lower -c, or pick a smaller model.")
            }
            let t = types.last!
            let floor = footprint(maxRatio, t), rest = fixed(maxRatio)
            throw PruneError.budgetInfeasible("\(gb(budget)) is too small for this model at -c \(context): even removing \(Int(maxRatio * 100))% of its parameters and writing \(t) leaves \(gb(max(floor, rest))) (embedding, tokenizer, KV cache and scratch alone take \(gb(rest))). Raise --budget, lower -c, or pick a smaller model.")
        }
        let droppedBlocks = dropped(ratio)
        // The model's footprint decides first (its explanation is the useful one); then the
        // pruning process must fit too.
        let (samples, systemSize, processBytes) = try processPlan()
        return BudgetPlan(budgetBytes: budget, context: context, ratio: ratio, outputType: "\(type)".lowercased(),
                          noPruningNeeded: false, estimatedFootprintBytes: footprint, denseFootprintBytes: denseFootprint,
                          estimatedProcessBytes: processBytes, calibrationSamples: samples, maxSystemSize: systemSize,
                          explanation: "dense: \(gb(denseFootprint)) at -c \(context); removing \(String(format: "%.1f", ratio * 100))% of the parameters" + (droppedBlocks > 0 ? " (\(droppedBlocks) of \(blocks) blocks whole)" : "") + " and writing \(type) gives about \(gb(footprint))")
    }

    /// Calibration size and least-squares block size for which the pruning process fits.
    static func processPlan(config: ModelConfig, budget: Int, settings: PruneSettings, embeddingBytes: Int,
                            residentBytes: Int = 0) throws -> (Int, Int, Int) {
        var samples = settings.calibrationSamples
        var system = min(settings.maxSystemSize, config.layers.map(\.feedForwardLength).max() ?? 0)
        let prunesAttention = settings.attentionShare > 0 && settings.method == .comp
        func estimate() -> Int {
            processBytes(config: config, samples: samples, length: settings.sequenceLength, systemSize: system,
                         prunesAttention: prunesAttention, residentBytes: residentBytes) + embeddingBytes / 4
        }
        while estimate() > budget {
            if system > 512 { system /= 2 } else if samples > 4 { samples /= 2 } else {
                throw PruneError.budgetInfeasible("the pruning process itself needs about \(ByteSize(bytes: estimate())) even with the smallest calibration set; raise --budget")
            }
        }
        return (samples, system, estimate())
    }

    /// Expected peak resident bytes of a pruning run.
    public static func processBytes(config: ModelConfig, samples: Int, length: Int, systemSize: Int,
                                    prunesAttention: Bool = false, residentBytes: Int = 0) -> Int {
        let rows = samples * length
        let dim = config.hiddenSize
        var widest = 0
        for s in config.layers { widest = max(widest, s.feedForwardLength, s.headCount * config.headDim) }
        // Pass 2 holds the pruned stream, the dense stream and their drift (pass 1 only two
        // streams), plus one sub-layer's captured input.
        var activations = rows * dim * 4 * 3 + rows * widest * 4
        if prunesAttention {
            // COMP's KV-group system holds every group's contribution to the output per token.
            let groups = config.layers.map(\.kvHeadCount).max() ?? 0
            activations += groups * rows * dim * 4
        }
        var layer = 0
        for s in config.layers {
            let mlp = 3 * dim * s.feedForwardLength
            let attention = 2 * dim * s.headCount * config.headDim
            layer = max(layer, mlp + attention)
        }
        let layerBytes = layer * 34 / 32 + dim * widest * 4 * 2
        let systems = systemSize * systemSize * 8 * 5
        let state = RunState.byteCount(config: config, maxBatch: length, contextLength: length, threads: 4, logitRows: 1)
        // What is resident already, plus the calibration text, its tokens and allocator slack
        // (SmolLM2-135M at --budget 100MB: 34.9 MB at planning, 93.5 MB peak; the fixed
        // allowance of 48 MB it replaces left the estimate 4 MB short).
        let fixed = max(residentBytes + runtimeOverhead, runtimeOverhead * 2)
        return activations + layerBytes + systems + state + fixed
    }
}

extension PruneSettings {
    /// Takes on what a budget plan decided: its ratio, output format and calibration sizes.
    public mutating func adopt(_ plan: BudgetPlan) {
        ratio = plan.ratio
        outputType = GGMLType(name: plan.outputType)
        calibrationSamples = plan.calibrationSamples
        maxSystemSize = plan.maxSystemSize
        // The budget is a promise about size: a block that stopped early (its masks' variance
        // over the bound) would leave the model larger than planned.
        maskVarianceBound = .infinity
    }
}
