import Foundation
import GGUF
import LLMRuntime

/// What a run leaves: the report, the plan, and for a model pruned in memory the input energies.
struct RunOutcome {
    var report: PruneReport
    var plan: PrunePlan
    var blockEnergy: [BlockInputEnergy]
    var outputEnergy: [Float]?
}

extension Pruner {
    /// The last step: the plan, the output matrix's input energy, the file finished and
    /// published with its plan (all or nothing), and the report.
    func write(_ run: PruneRun, allocation: PruneAllocation, blocks done: PrunedBlocks, finalStream x: Activations,
               writer: PrunedModelWriter?, outputPath: String?, planPath: String?, keepEnergy: Bool) throws -> RunOutcome {
        let blocks = config.blockCount
        var newConfig = config
        newConfig.layers = done.shapes
        if config.slidingWindow > 0 { newConfig.slidingWindowLayers = allocation.kept.map { config.isSlidingWindow($0) } }
        let addedBiases = done.planLayers.reduce(0) { $0 + ($1.downBias?.count ?? 0) + ($1.attentionBias?.count ?? 0) }
        let after = totalParameters - allocation.layerParameters.reduce(0, +) + done.shapes.reduce(0) { $0 + counter.layer($1) } + addedBiases
        var plan = PrunePlan(method: settings.method, ratio: settings.ratio,
                             source: .init(path: source.path, fileSize: source.fileSize, blockCount: blocks, parameters: totalParameters),
                             layerImportance: allocation.importance, droppedLayers: allocation.dropped, layers: done.planLayers,
                             parametersAfter: after, calibrationTokens: run.rows)
        plan.compensation = settings.method == .comp ? settings.compensation : nil
        plan.target = settings.method == .comp ? settings.effectiveTarget : nil
        plan.driftShare = settings.method == .comp && settings.effectiveTarget == .stream ? settings.driftShare : nil
        // All outputs or none: the plan is written in full beside its path before the model is
        // published, and renamed into place after it. A plan that cannot be written (a full
        // disk) stops the run before the model appears.
        let stagedPlan = try planPath.map { try plan.stage(to: $0) }
        var outputBytes: Int?
        // What the output matrix reads: the pruned model's final hidden state, normalized.
        var outputIn = InputEnergy(width: config.hiddenSize)
        if writer != nil || keepEnergy, settings.embeddingType != nil, let t = source.tensor(named: "output_norm.weight") {
            let norm = TensorConversion.floats(of: t, in: source)
            var row = [Float](repeating: 0, count: config.hiddenSize)
            for r in 0..<x.rows {
                Ops.rmsNorm(x.row(r), weight: norm, count: config.hiddenSize, eps: config.normEpsilon, into: &row)
                outputIn.add(row, rows: 1)
            }
        }
        let writeStarted = Clock.now()
        if let writer, let outputPath {
            try run.checkStop("writing", blocks - 1)
            run.report("writing", blocks - 1)
            // A rewrite in other formats with nothing removed is not a pruned model.
            let pruneRecord: [(key: String, value: GGUFValue)] = settings.ratio > 0 ? [
                ("llmrun.prune.method", .string(settings.method.rawValue)),
                ("llmrun.prune.ratio", .float32(Float(settings.ratio))),
                ("llmrun.prune.source_block_count", .uint32(UInt32(blocks))),
            ] : []
            try writer.finish(config: newConfig, extraMetadata: pruneRecord, outputEnergy: outputIn.means)
            // Its size from the directory: opening it as a GGUF would parse its whole header
            // (the tokenizer's arrays, megabytes) at the process's peak.
            outputBytes = (try? FileManager.default.attributesOfItem(atPath: outputPath))?[.size] as? Int
        }
        let writeSeconds = Clock.now() - writeStarted
        if let stagedPlan {
            do { try stagedPlan.commit() } catch {
                // The model alone would be a partial publish.
                if let outputPath { unlink(outputPath) }
                throw error
            }
        }
        let report = PruneReport(method: settings.method.rawValue, ratioTarget: settings.ratio,
                                 ratioAchieved: 1 - Double(after) / Double(totalParameters),
                                 parametersBefore: totalParameters, parametersAfter: after,
                                 parametersBeforeWithoutEmbedding: totalParameters - embeddingParameters,
                                 parametersAfterWithoutEmbedding: after - embeddingParameters,
                                 blocksBefore: blocks, blocksAfter: allocation.kept.count, droppedLayers: allocation.dropped,
                                 layersStoppedEarly: done.stoppedEarly, outputPath: outputPath, outputBytes: outputBytes,
                                 outputType: OutputFormat(settings.outputType), embeddingType: OutputFormat(settings.embeddingType),
                                 calibrationTokens: run.rows, seconds: Clock.now() - run.started,
                                 peakResidentBytes: ProcessMemory.peakResidentBytes,
                                 refit: done.refit.isEmpty ? nil : done.refit,
                                 phaseSeconds: ["importance": allocation.importanceSeconds, "refit": done.refit.reduce(0) { $0 + $1.seconds },
                                                "write": writeSeconds])
        return RunOutcome(report: report, plan: plan, blockEnergy: done.energy,
                          outputEnergy: settings.embeddingType != nil ? outputIn.means : nil)
    }
}
