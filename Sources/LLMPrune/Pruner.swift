import Foundation
import GGUF
import LLMRuntime
import Tokenizers

/// Where a pruning run is, for progress displays.
public struct PruneProgress: Sendable {
    public var phase: String
    public var layer: Int
    public var layers: Int
    public var elapsed: Double
    public var residentBytes: Int
}

/// What a pruning run did.
public struct PruneReport: Codable, Sendable {
    public var method: String
    public var ratioTarget: Double
    public var ratioAchieved: Double
    public var parametersBefore: Int
    public var parametersAfter: Int
    public var parametersBeforeWithoutEmbedding: Int
    public var parametersAfterWithoutEmbedding: Int
    public var blocksBefore: Int
    public var blocksAfter: Int
    public var droppedLayers: [Int]
    public var layersStoppedEarly: [Int]
    public var outputPath: String?
    public var outputBytes: Int?
    /// Formats written: the blocks' matrices and the embedding (`.source`: as they were).
    public var outputType: OutputFormat
    public var embeddingType: OutputFormat
    public var calibrationTokens: Int
    public var seconds: Double
    public var peakResidentBytes: Int
    /// Per refit block: steps, held-out error before and after, seconds.
    public var refit: [RefitRecord]?
    /// Seconds in pass 1 (block importance), the refit (all blocks) and writing the file; the
    /// rest of `seconds` is pass 2's selection and masks.
    public var phaseSeconds: [String: Double]?
}

/// COMP and its baselines, run layer by layer on a memory-mapped source model.
///
/// A pruner resolves its request once, at construction, into final settings. A run then goes:
/// measure each block's importance on the dense model (pass 1) → allocate the removal (whole
/// blocks, KV groups and MLP channels per block) → for each kept block, on the *pruned* model's
/// activations (pass 2): prune it (choose its units, tune their masks against the dense block)
/// → refit it (`--refit-steps`) → write it; then finish the file. Only one block's weights and
/// the calibration activations are resident at a time.
public final class Pruner {
    public let source: GGUFFile
    public let config: ModelConfig
    /// The run's final settings: the request resolved with the architecture's defaults and
    /// limits (`adjusted`) and, for a budget, the plan adopted.
    public let settings: PruneSettings
    /// What the budget planner decided, for a `.budget` request.
    public let budgetPlan: BudgetPlan?
    public let pool: ThreadPool
    let tokenizer: any Tokenizer
    let counter: ParameterCount

    /// Opens the source and resolves `request` into the run's settings, each step once: the
    /// architecture's defaults and limits, then a budget's plan (ratio, formats, calibration
    /// size), then the check that the method can remove the ratio — all before any work.
    /// - Parameter residentBytes: what the process holds before the run, for a budget's process
    ///   plan (default: its resident size once the source and tokenizer are loaded).
    /// - Throws: `PruneError.budgetInfeasible` when no plan fits the budget,
    ///   `PruneError.unreachable` when the method cannot remove the ratio.
    public init(sourcePath: String, request: PruneRequest, settings: PruneSettings, threads: Int,
                residentBytes: Int? = nil) throws {
        source = try GGUFFile(path: sourcePath)
        config = try ModelConfig(file: source)
        guard ModelConfig.prunableArchitectures.contains(config.architecture) else {
            throw ModelError.unsupported(path: sourcePath, detail: "architecture '\(config.architecture)' cannot be pruned yet (supported: \(ModelConfig.prunableArchitectures.sorted().joined(separator: ", ")))")
        }
        pool = ThreadPool(threadCount: threads)
        tokenizer = try TokenizerLoader.load(from: source)
        counter = ParameterCount(config: config)

        var resolved = Pruner.adjusted(settings, for: config)
        var plan: BudgetPlan?
        switch request {
        case .ratio(let ratio):
            resolved.ratio = ratio
        case .budget(let budget):
            let planned = try BudgetPlanner.plan(file: source, config: config, budget: budget, resolved: resolved,
                                                 residentBytes: residentBytes ?? ProcessMemory.residentBytes)
            if !planned.noPruningNeeded { resolved.adopt(planned) }
            plan = planned
        }
        let total = source.tensors.reduce(0) { $0 + $1.elementCount }
        // A ratio the method cannot remove would end short of its target with every block cut to
        // its floor.
        if plan?.noPruningNeeded != true, !resolved.canReach(ratio: resolved.ratio, config: config, totalParameters: total) {
            throw PruneError.unreachable(resolved.unreachableExplanation(ratio: resolved.ratio, config: config, totalParameters: total))
        }
        self.settings = resolved
        budgetPlan = plan
    }

    /// A pruner removing `settings.ratio` of the parameters.
    public convenience init(sourcePath: String, settings: PruneSettings, threads: Int) throws {
        try self.init(sourcePath: sourcePath, request: .ratio(settings.ratio), settings: settings, threads: threads)
    }

    /// What an architecture cannot take of the settings, and its defaults for what they leave open.
    static func adjusted(_ settings: PruneSettings, for config: ModelConfig) -> PruneSettings {
        var settings = settings
        if settings.layerShare == nil { settings.layerShare = PruneSettings.defaultLayerShare(architecture: config.architecture) }
        if config.architecture != "llama" {
            // Only llama has a per-layer-shape twin in llama.cpp (deci); others keep every block
            // the same shape: equal MLP widths, whole attention kept, no early stops.
            settings.uniformShapes = true
            settings.attentionShare = 0
            settings.maskVarianceBound = .infinity
            // Of the per-shape twins' loaders, only llama's and deci's read an MLP bias.
            settings.biasCompensation = false
        }
        if config.hasPostNorms {
            // A post-norm sits between an MLP's down projection and the residual stream, so the
            // stream's drift is not in the units the masks are fitted in: fit each MLP to its
            // dense output (the layer target).
            settings.target = .layer
            // The refit's backward pass does not go through a post-norm.
            settings.refit.steps = 0
        }
        if settings.method != .comp { settings.refit.steps = 0 }
        return settings
    }

    /// Nothing to do: a budget the model meets as it is.
    public var noPruningNeeded: Bool { budgetPlan?.noPruningNeeded ?? false }

    public var totalParameters: Int { source.tensors.reduce(0) { $0 + $1.elementCount } }
    public var embeddingParameters: Int { source.tensor(named: "token_embd.weight")?.elementCount ?? 0 }

    /// Tokenizes calibration text into N sequences of T tokens.
    public func calibration(text: String) throws -> CalibrationSet {
        try CalibrationSet.make(text: text, tokenizer: tokenizer, count: settings.calibrationSamples,
                                length: settings.sequenceLength)
    }

    public func run(calibration: CalibrationSet, outputPath: String?, planPath: String?,
                    progress: (PruneProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> PruneReport {
        try execute(calibration: calibration, outputPath: outputPath, planPath: planPath, keepEnergy: false,
                    progress: progress, shouldStop: shouldStop).report
    }

    /// What a run without output holds for a model pruned in memory at load: the plan, and the
    /// input statistics the writer would fit each converted matrix's blocks with.
    struct InMemoryResult {
        var plan: PrunePlan
        /// Per kept block.
        var blockEnergy: [BlockInputEnergy]
        /// Of the output matrix, when the embedding changes format.
        var outputEnergy: [Float]?
    }

    func runInMemory(calibration: CalibrationSet, progress: (PruneProgress) -> Void = { _ in },
                     shouldStop: () -> Bool = { false }) throws -> InMemoryResult {
        let r = try execute(calibration: calibration, outputPath: nil, planPath: nil, keepEnergy: true,
                            progress: progress, shouldStop: shouldStop)
        return InMemoryResult(plan: r.plan, blockEnergy: r.blockEnergy, outputEnergy: r.outputEnergy)
    }

    /// The run, step by step.
    private func execute(calibration: CalibrationSet, outputPath: String?, planPath: String?, keepEnergy: Bool,
                         progress: (PruneProgress) -> Void, shouldStop: () -> Bool) throws -> RunOutcome {
        try withoutActuallyEscaping(progress) { progress in
            try withoutActuallyEscaping(shouldStop) { shouldStop in
                let run = try PruneRun(pruner: self, calibration: calibration, progress: progress, shouldStop: shouldStop)
                let importance = try measureImportance(run)
                let allocation = allocate(importance)
                let writer = try outputPath.map { try PrunedModelWriter(source: source, outputPath: $0, outputType: settings.outputType,
                                                                        embeddingType: settings.embeddingType) }
                let streams = PruneStreams(run, allocation: allocation)
                var done = PrunedBlocks()
                for (i, l) in allocation.kept.enumerated() {
                    var block = try pruneBlock(l, index: i, run: run, allocation: allocation, streams: streams)
                    if let fit = block.refit { done.refit.append(try refitBlock(&block, fit, run: run)) }
                    passFeedForward(&block, run: run, streams: streams)
                    try writer?.append(layer: block.weights, index: i, inputEnergy: block.energy, sourceLayer: l,
                                       rowSelections: block.rowSelections ?? block.plan.rowSelections(shape: config.layers[l], config: config))
                    done.add(block, keepEnergy: keepEnergy)
                    run.release(l)
                }
                return try write(run, allocation: allocation, blocks: done, finalStream: streams.x, writer: writer,
                                 outputPath: outputPath, planPath: planPath, keepEnergy: keepEnergy)
            }
        }
    }
}
