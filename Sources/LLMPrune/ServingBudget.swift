import Foundation
import GGUF
import LLMRuntime

/// What `serve --budget` applies at load: the budget planner's formats and the pruner's
/// removals for a model serving `slots` sequences of `context` positions each, held in memory
/// (no file is written). Applied block by block as the model is bound (`LoadTransform`).
public struct ServingPlan: LoadTransform {
    /// The planner's decision: ratio, formats, the footprint it expects.
    public var budget: BudgetPlan
    public var slots: Int
    /// What the pruner removed and the masks it tuned (nil: nothing removed).
    public var prune: PrunePlan?
    /// The format of the kept blocks' matrices (nil: as loaded).
    public var blockType: GGMLType?
    /// The format of the embedding and a separate output matrix (nil: as loaded).
    public var embeddingType: GGMLType?
    /// Per kept block, the mean square of each matrix's inputs on the calibration text: the
    /// weights its 4-bit blocks are fitted with, as `prune` fits the ones it writes.
    var blockEnergy: [BlockInputEnergy]
    /// The same for the output matrix's inputs (the final normalized hidden state).
    var outputEnergy: [Float]?
    /// What was planned and done, for the CLI to print.
    public var description: String

    public func transformedConfig(_ source: ModelConfig) throws -> (config: ModelConfig, sourceLayers: [Int]) {
        guard let prune else { return (source, Array(source.layers.indices)) }
        return try prune.transformedConfig(source)
    }

    public func transformLayer(_ dense: LayerWeights, index: Int, source: ModelConfig) throws -> LayerWeights {
        var w = dense
        if let layer = prune?.layers[index] {
            w = try layer.apply(to: dense, shape: source.layers[layer.source], config: source, outputType: blockType)
        }
        guard let t = blockType else { return w }
        let e = index < blockEnergy.count ? blockEnergy[index] : BlockInputEnergy()
        // Every matrix not yet in the planned format is requantized to it, as the written file holds it.
        func convert(_ m: WeightMatrix?, _ energy: [Float]?) throws -> WeightMatrix? {
            guard let m, m.type != t else { return m }
            return try m.requantized(to: t, importance: energy)
        }
        w.wq = try convert(w.wq, e.attention); w.wk = try convert(w.wk, e.attention); w.wv = try convert(w.wv, e.attention)
        w.wo = try convert(w.wo, e.heads)
        w.gate = try convert(w.gate, e.feedForward); w.up = try convert(w.up, e.feedForward)
        w.down = try convert(w.down, e.hidden)
        return w
    }

    public func transformedEmbedding(file: GGUFFile, config: ModelConfig) throws -> (embedding: EmbeddingTable, output: WeightMatrix)? {
        guard let e = embeddingType, let embd = file.tensor(named: "token_embd.weight"), embd.type != e else { return nil }
        let tied = file.tensor(named: "output.weight") == nil
        // The tied embedding is also the output matrix: fitted to the output's inputs, as `prune` does.
        let table = try WeightMatrix.requantizing(embd, in: file, to: e, importance: tied ? outputEnergy : nil)
        let output: WeightMatrix
        if tied {
            output = table
        } else if let out = file.tensor(named: "output.weight"), out.type != e {
            output = try WeightMatrix.requantizing(out, in: file, to: e, importance: outputEnergy)
        } else {
            output = try WeightMatrix(tensor: file.tensor(named: "output.weight")!, in: file)
        }
        return (EmbeddingTable(matrix: table, scale: config.embeddingScale), output)
    }
}

/// Plans and prepares `serve --budget`: the same planning as `prune --budget` (formats first,
/// then removal), with every slot's KV cache and the batched step's scratch counted, and the
/// same pruning run, kept in memory.
public enum ServingBudget {
    /// - Parameters:
    ///   - context: positions per slot.
    ///   - slots: sequences served at once, each with its own KV cache.
    ///   - batch: rows of the batched forward step (prompt chunks and decoded tokens together).
    ///   - layerShare: COMP's share of whole blocks (nil: the architecture's default, as `prune`).
    ///   - calibrationText: text to calibrate on (default: the bundled C4 sample).
    ///   - residentBytes: what the process holds before pruning (default: its resident size now).
    ///   - runtimeBytes: what the serving process holds beside the model's buffers
    ///     (`ServingFootprint.runtimeBytes`; default: a CLI run's `BudgetPlanner.runtimeOverhead`).
    /// - Throws: `PruneError.budgetInfeasible` (exit 75) when no plan fits, before any work.
    public static func plan(modelPath: String, budget: Int, context: Int, slots: Int, batch: Int = 256,
                            settings: PruneSettings = PruneSettings(), layerShare: Double? = nil, calibrationText: String? = nil, residentBytes: Int? = nil, threads: Int,
                            runtimeBytes: Int = BudgetPlanner.runtimeOverhead,
                            progress: (PruneProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> ServingPlan {
        var settings = settings
        if let layerShare { settings.layerShare = layerShare }
        let pruner = try Pruner(sourcePath: modelPath,
                                request: .budget(MemoryBudget(bytes: budget, context: context, slots: slots, batch: batch, threads: threads,
                                                              runtimeBytes: runtimeBytes)),
                                settings: settings, threads: threads, residentBytes: residentBytes)
        guard let planned = pruner.budgetPlan else { throw PruneError.budgetInfeasible("no budget plan") }
        let slotsNote = "\(slots) slot\(slots == 1 ? "" : "s") of \(context) positions"
        if planned.noPruningNeeded {
            return ServingPlan(budget: planned, slots: slots, prune: nil, blockType: nil, embeddingType: nil, blockEnergy: [],
                               outputEnergy: nil, description: "budget: \(planned.explanation) (\(slotsNote)); loading it as it is")
        }
        settings = pruner.settings
        let calibration = try pruner.calibration(text: try calibrationText ?? CalibrationSet.bundledText())
        let result = try pruner.runInMemory(calibration: calibration, progress: progress, shouldStop: shouldStop)
        let removed = planned.ratio > 0
            ? String(format: "removed %.1f%% of the parameters", (1 - Double(result.plan.parametersAfter) / Double(result.plan.source.parameters)) * 100)
                + (result.plan.droppedLayers.isEmpty ? "" : " (blocks \(result.plan.droppedLayers.map(String.init).joined(separator: ", ")) whole)")
            : "removed nothing"
        return ServingPlan(budget: planned, slots: slots, prune: planned.ratio > 0 ? result.plan : nil,
                           blockType: settings.outputType, embeddingType: settings.embeddingType,
                           blockEnergy: result.blockEnergy, outputEnergy: result.outputEnergy,
                           description: "budget: \(planned.explanation) (\(slotsNote)); \(removed) in memory, blocks \(planned.outputType), embedding \(planned.embeddingType), calibrated on \(calibration.tokenCount) tokens")
    }
}
