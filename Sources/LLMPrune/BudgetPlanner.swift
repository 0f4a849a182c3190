import Foundation
import GGUF
import LLMRuntime

/// What the planner decided for a memory budget.
public struct BudgetPlan: Sendable, Codable {
    public var budgetBytes: Int
    public var context: Int
    /// Fraction of all parameters to remove (0: none needed).
    public var ratio: Double
    /// The blocks' format in the output.
    public var outputType: OutputFormat
    /// The embedding's format in the output (`.source`: copied as it is).
    public var embeddingType: OutputFormat
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

    /// - Parameters:
    ///   - residentBytes: what the process already holds (binary, source header, tokenizer);
    ///     the pruning run's own buffers come on top.
    ///   - slots: sequences the model will serve at once, each with a KV cache of `context`
    ///     positions (`serve --parallel`); `batch`: rows of its forward step.
    ///   - threads: the run's threads (their attention scratch counts).
    ///   - runtimeBytes: what the running process holds beside the model's buffers (binary,
    ///     libraries, heap, stacks; a server's HTTP stack): `runtimeOverhead` for a CLI run,
    ///     `ServingFootprint.runtimeBytes` for `serve`.
    public static func plan(file: GGUFFile, config: ModelConfig, budget: Int, context: Int,
                            requestedType: GGMLType?, settings: PruneSettings, residentBytes: Int = 0,
                            slots: Int = 1, batch: Int = 256, threads: Int = 1,
                            runtimeBytes: Int = BudgetPlanner.runtimeOverhead) throws -> BudgetPlan {
        var settings = settings
        settings.outputType = requestedType
        // What the run will do for this architecture (uniform shapes, attention kept whole…).
        return try plan(file: file, config: config,
                        budget: MemoryBudget(bytes: budget, context: context, slots: slots, batch: batch, threads: threads,
                                             runtimeBytes: runtimeBytes),
                        resolved: Pruner.adjusted(settings, for: config), residentBytes: residentBytes)
    }

    /// The plan for settings already adjusted for the architecture (`Pruner.adjusted`); a given
    /// `outputType` fixes the blocks' format.
    static func plan(file: GGUFFile, config: ModelConfig, budget memory: MemoryBudget, resolved settings: PruneSettings,
                     residentBytes: Int) throws -> BudgetPlan {
        let budget = memory.bytes, context = memory.context, slots = memory.slots
        let requestedType = settings.outputType
        try MemoryEstimate.checkContext(context)
        let model = FootprintModel(file: file, config: config, context: context, settings: settings, slots: slots, batch: memory.batch,
                                   threads: memory.threads, runtimeBytes: memory.runtimeBytes)
        // How the context reads in explanations: per slot when there are several.
        let contextLabel = slots > 1 ? "\(context) x \(slots) slots" : "\(context)"
        let total = model.totalParameters
        let gb = { (b: Int) in ByteSize(bytes: b).description }

        func processPlan() throws -> (Int, Int, Int) {
            try BudgetPlanner.processPlan(config: config, budget: budget, settings: settings,
                                          embeddingBytes: file.tensor(named: "token_embd.weight")?.byteCount ?? 0,
                                          residentBytes: residentBytes)
        }
        let denseFootprint = model.denseFootprint
        if denseFootprint <= budget && requestedType == nil {
            let (samples, systemSize, processBytes) = try processPlan()
            return BudgetPlan(budgetBytes: budget, context: context, ratio: 0, outputType: .source, embeddingType: .source, noPruningNeeded: true,
                              estimatedFootprintBytes: denseFootprint, denseFootprintBytes: denseFootprint,
                              estimatedProcessBytes: processBytes, calibrationSamples: samples, maxSystemSize: systemSize,
                              explanation: "the model already fits: \(gb(denseFootprint)) at -c \(contextLabel) within \(gb(budget)); no pruning needed")
        }
        let types: [GGMLType] = requestedType.map { [$0] } ?? [.q8_0, .q4_1, model.narrowestBlockFormat]
        let embeddingNow = model.embeddingBytes(nil)
        func footprint(_ ratio: Double, _ t: GGMLType, _ e: GGMLType?) -> Int { model.footprint(ratio: ratio, blocks: t, embedding: e) }

        // Candidates in order of preference: the widest block format first, and with each the
        // embedding as it is, then (unless --embedding-type decided) narrower. Block precision
        // matters more: Gemma-3-270M with nothing removed gave 15.80 with Q8_0 blocks and a Q4_1
        // embedding, 16.17 with a Q4_0 one, but 17.48 with Q4_1 blocks and its Q8_0 embedding.
        var candidates: [(blocks: GGMLType, embedding: GGMLType?)] = []
        for t in types {
            if let e = settings.embeddingType {
                candidates.append((t, e))
            } else {
                candidates.append((t, nil))
                for e in [GGMLType.q8_0, .q4_1, .q4_0] where model.embeddingBytes(e) < embeddingNow { candidates.append((t, e)) }
            }
        }
        // Each candidate's smallest ratio (steps of 0.1%) that fits and that the method can
        // remove. The plan takes the least pruning, and of equal ratios the preferred candidate:
        // a narrower format costs far less than removing its bytes' worth of parameters. Wiki
        // perplexity (dense SmolLM2-135M 17.64, Gemma-3-270M 14.86 over 8 chunks): SmolLM2 with
        // Q4_1 blocks and embedding, nothing removed, 18.83; Q4_0 blocks with 1.3% removed (the
        // same footprint) 22.89. Gemma at --budget 400MB -c 2048 had 23.6% removed and Q4_1
        // written, 645.6; Q8_0 blocks with a Q4_0 embedding and nothing removed give 16.17.
        var best: (blocks: GGMLType, embedding: GGMLType?, ratio: Double, footprint: Int)?
        // The smallest fitting ratio of a candidate the method could not reach.
        var beyondReach: (GGMLType, Double)?
        let steps = Int((maxRatio * 1000).rounded())
        for (t, e) in candidates {
            guard let step = (0...steps).first(where: { footprint(Double($0) / 1000, t, e) <= budget }) else { continue }
            let ratio = Double(step) / 1000
            guard settings.canReach(ratio: ratio, config: config, totalParameters: total),
                  ratio * Double(total) < Double(model.blockMatrixParameters) * 0.9 else {
                // A plan the method cannot carry out would end over budget with every block at
                // its floor.
                beyondReach = (t, ratio)
                continue
            }
            if best == nil || ratio < best!.ratio { best = (t, e, ratio, footprint(ratio, t, e)) }
        }
        guard let (type, embedding, ratio, footprint) = best else {
            if let (t, ratio) = beyondReach {
                let why = settings.unreachableExplanation(ratio: ratio, config: config, totalParameters: total)
                throw PruneError.budgetInfeasible("\(gb(budget)) at -c \(contextLabel) needs \(String(format: "%.1f", ratio * 100))% of the parameters removed even writing \(t), but \(why). Raise --budget, lower -c, or pick a smaller model.")
            }
            let t = types.last!, e = candidates.last!.embedding
            // The most the plan could remove: the planner's cap, or less where the method's reach ends.
            let most = min(maxRatio, settings.maximumRatio(config: config, totalParameters: total))
            let floor = footprint(most, t, e), rest = model.fixed(ratio: most, embedding: e)
            throw PruneError.budgetInfeasible("\(gb(budget)) is too small for this model at -c \(contextLabel): even removing \(String(format: "%.1f", most * 100))% of its parameters and writing \(t)\(e.map { " (embedding \($0))" } ?? "") leaves \(gb(max(floor, rest))) (embedding, tokenizer, KV cache and scratch alone take \(gb(rest))). Raise --budget, lower -c, or pick a smaller model.")
        }
        let droppedBlocks = model.dropped(ratio)
        // The model's footprint decides first (its explanation is the useful one); then the
        // pruning process must fit too.
        let (samples, systemSize, processBytes) = try processPlan()
        let removal = ratio > 0
            ? "removing \(String(format: "%.1f", ratio * 100))% of the parameters" + (droppedBlocks > 0 ?  " (\(droppedBlocks) of \(config.blockCount) blocks whole)" : "") + " and writing"
            : "removing nothing and writing"
        let embeddingNote = embedding.map { " (embedding \($0))" } ?? ""
        return BudgetPlan(budgetBytes: budget, context: context, ratio: ratio, outputType: .type(type),
                          embeddingType: OutputFormat(embedding),
                          noPruningNeeded: false, estimatedFootprintBytes: footprint, denseFootprintBytes: denseFootprint,
                          estimatedProcessBytes: processBytes, calibrationSamples: samples, maxSystemSize: systemSize,
                          explanation: "dense: \(gb(denseFootprint)) at -c \(contextLabel); \(removal) \(type)\(embeddingNote) gives about \(gb(footprint))")
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
        outputType = plan.outputType.ggmlType
        embeddingType = plan.embeddingType.ggmlType
        calibrationSamples = plan.calibrationSamples
        maxSystemSize = plan.maxSystemSize
        // The budget is a promise about size: a block that stopped early (its masks' variance
        // over the bound) would leave the model larger than planned.
        maskVarianceBound = .infinity
    }
}
