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
    /// Formats written: the blocks' matrices and the embedding ("source": as they were).
    public var outputType: String
    public var embeddingType: String
    public var calibrationTokens: Int
    public var seconds: Double
    public var peakResidentBytes: Int
}

/// COMP and its baselines, run layer by layer on a memory-mapped source model.
///
/// Pass 1 runs the dense model over the calibration tokens one block at a time and scores each
/// block's importance. Pass 2 walks the kept blocks again, feeding the *pruned* model's
/// activations forward, chooses KV groups and MLP channels per block, tunes their masks against
/// the dense block's output on the same input, folds them in, and appends the finished block to
/// the output. Only one block's weights and the calibration activations are resident at a time.
public final class Pruner {
    public let source: GGUFFile
    public let config: ModelConfig
    public private(set) var settings: PruneSettings
    public let pool: ThreadPool
    let tokenizer: any Tokenizer
    let counter: ParameterCount

    public init(sourcePath: String, settings: PruneSettings, threads: Int) throws {
        source = try GGUFFile(path: sourcePath)
        config = try ModelConfig(file: source)
        guard ModelConfig.prunableArchitectures.contains(config.architecture) else {
            throw ModelError.unsupported(path: sourcePath, detail: "architecture '\(config.architecture)' cannot be pruned yet (supported: \(ModelConfig.prunableArchitectures.sorted().joined(separator: ", ")))")
        }
        self.settings = Pruner.adjusted(settings, for: config)
        pool = ThreadPool(threadCount: threads)
        tokenizer = try TokenizerLoader.load(from: source)
        counter = ParameterCount(config: config)
    }

    /// Replaces the settings (once a budget plan has decided them), adjusted for the model as at
    /// construction. One pruner serves planning and the run: a second one would hold a second
    /// tokenizer (about 100 MB for Gemma 3's 262,144 pieces) beside the first.
    public func update(settings: PruneSettings) {
        self.settings = Pruner.adjusted(settings, for: config)
    }

    /// What an architecture cannot take of the settings.
    static func adjusted(_ settings: PruneSettings, for config: ModelConfig) -> PruneSettings {
        var settings = settings
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
        }
        return settings
    }

    /// Refuses a ratio the method cannot remove (before any work: a run would end short of its
    /// target with every block cut to its floor).
    public func checkReachable() throws {
        guard settings.canReach(ratio: settings.ratio, config: config, totalParameters: totalParameters) else {
            throw PruneError.unreachable(settings.unreachableExplanation(ratio: settings.ratio, config: config, totalParameters: totalParameters))
        }
    }

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

    private func execute(calibration: CalibrationSet, outputPath: String?, planPath: String?, keepEnergy: Bool,
                         progress: (PruneProgress) -> Void, shouldStop: () -> Bool) throws
        -> (report: PruneReport, plan: PrunePlan, blockEnergy: [BlockInputEnergy], outputEnergy: [Float]?) {
        try checkReachable()
        let started = Clock.now()
        let runner = LayerRunner(config: config, pool: pool, calibration: calibration)
        let embedding = try EmbeddingTable(file: source, config: config)
        let blocks = config.blockCount
        func report(_ phase: String, _ layer: Int) {
            progress(PruneProgress(phase: phase, layer: layer, layers: blocks, elapsed: Clock.now() - started,
                                   residentBytes: ProcessMemory.residentBytes))
        }
        func checkStop(_ phase: String, _ layer: Int) throws {
            if shouldStop() {
                throw PruneError.interrupted("stopped during \(phase) at block \(layer + 1) of \(blocks); nothing was written")
            }
        }
        func release(_ l: Int) {
            for t in source.tensors where t.name.hasPrefix("blk.\(l).") { source.releasePages(of: t) }
        }

        // Targets
        let target = Int(settings.ratio * Double(totalParameters))
        let layerParams = config.layers.map { counter.layer($0) }
        let dropCount = settings.blocksToDrop(ratio: settings.ratio, totalParameters: totalParameters, layerParameters: layerParams)

        // Pass 1: block importance on the dense model (drops layers, and steers where neurons go).
        var importance = [Double](repeating: 0, count: blocks)
        // (Nothing to remove — a budget met by formats alone — needs no importance either.)
        let needImportance = dropCount > 0 || (target > 0 && settings.method == .comp && settings.allocationExponent != 0)
        if needImportance {
            let x = runner.embed(embedding)
            for l in 0..<blocks {
                try checkStop("pass 1 (block importance)", l)
                report("pass 1: block importance", l)
                let w = try LayerWeights(file: source, config: config, layer: l)
                let before = x.copy()
                runner.apply(.attention, layer: l, weights: w, shape: config.layers[l], to: x)
                runner.apply(.feedForward, layer: l, weights: w, shape: config.layers[l], to: x)
                importance[l] = 1 - LayerImportance.meanCosine(before, x)
                release(l)
            }
        }
        let dropped = LayerImportance.layersToDrop(scores: importance, count: dropCount)
        let droppedSet = Set(dropped)
        let kept = (0..<blocks).filter { !droppedSet.contains($0) }

        // Neuron targets for the kept blocks.
        let removedByLayers = dropped.reduce(0) { $0 + layerParams[$1] }
        let neuronTarget = max(0, target - removedByLayers)
        let attentionTarget = settings.method == .layers ? 0 : Int(Double(neuronTarget) * settings.attentionShare)
        let mlpTarget = settings.method == .layers ? 0 : neuronTarget - attentionTarget
        let channelKeep = mlpKeepCounts(kept: kept, removeParameters: mlpTarget,
                                        weights: needImportance && settings.method == .comp ? kept.map { pow(max(importance[$0], 1e-6), -settings.allocationExponent) } : nil)
        let groupKeep = groupKeepCounts(kept: kept, removeParameters: attentionTarget, importance: importance)

        // Pass 2: neurons and masks, on the pruned model's activations.
        let writer = try outputPath.map { try PrunedModelWriter(source: source, outputPath: $0, outputType: settings.outputType,
                                                                            embeddingType: settings.embeddingType) }
        let selector = NeuronSelector(settings: settings, config: config, pool: pool)
        var planLayers: [PrunePlan.Layer] = []
        var newShapes: [LayerShape] = []
        var stoppedEarly: [Int] = []
        var blockEnergy: [BlockInputEnergy] = []
        let x = runner.embed(embedding)
        let rows = calibration.tokenCount
        let writeType = settings.outputType
        // With the stream target, the dense model runs alongside (one block behind the pruned
        // one at most), so each pruned MLP can be tuned toward where the dense stream is.
        let denseStream: Activations? = settings.method == .comp && settings.effectiveTarget == .stream ? x.copy() : nil
        var denseNext = 0
        func advanceDense(through l: Int, weights: LayerWeights) throws {
            guard let xd = denseStream else { return }
            while denseNext <= l {
                let w = denseNext == l ? weights : try LayerWeights(file: source, config: config, layer: denseNext)
                runner.apply(.attention, layer: denseNext, weights: w, shape: config.layers[denseNext], to: xd)
                runner.apply(.feedForward, layer: denseNext, weights: w, shape: config.layers[denseNext], to: xd)
                if droppedSet.contains(denseNext) { release(denseNext) }
                denseNext += 1
            }
        }
        for (i, l) in kept.enumerated() {
            // With nothing to remove (a rewrite in other formats) the pass only measures inputs.
            try checkStop(target > 0 ? "pass 2 (neurons and masks)" : "pass 2 (input statistics)", l)
            report(target > 0 ? "pass 2: neurons and masks" : "pass 2: input statistics", l)
            let dense = try LayerWeights(file: source, config: config, layer: l)
            let shape = config.layers[l]
            var plan = PrunePlan.Layer(source: l, importance: needImportance ? importance[l] : nil)

            // Attention: KV groups.
            var w = dense
            var s = shape
            if let keepGroups = groupKeep[l], keepGroups < shape.kvHeadCount {
                let heads = Activations(rows: rows, width: shape.headCount * config.headDim)
                runner.run(.attention, layer: l, weights: dense, shape: shape, input: x) { state, first in
                    heads.row(first).update(from: state.att, count: runner.sequenceLength * heads.width)
                }
                let sel = selector.selectGroups(weights: dense, shape: shape, heads: heads, keep: keepGroups)
                plan.keptKVHeads = sel.kept
                plan.groupMasks = sel.masks
                plan.attentionBias = sel.bias
                if sel.stoppedEarly { stoppedEarly.append(l) }
                let headEnergy = heads.columnMeanSquares(), group = shape.headCount / shape.kvHeadCount, hd = config.headDim
                plan.outputInputEnergy = sel.kept.flatMap { u in (u * group * hd)..<((u + 1) * group * hd) }.map { headEnergy[$0] }
            }
            if plan.keptKVHeads != nil {
                w = try plan.apply(to: dense, shape: shape, config: config, outputType: writeType)
                s = try plan.shape(from: shape, config: config)
            }
            var attentionIn = InputEnergy(width: config.hiddenSize), headsOut = InputEnergy(width: s.headCount * config.headDim)
            let T = runner.sequenceLength
            runner.apply(.attention, layer: l, weights: w, shape: s, to: x) { state in
                attentionIn.add(state.xb, rows: T)
                headsOut.add(state.att, rows: T)
            }
            var energy = BlockInputEnergy(attention: attentionIn.means, heads: headsOut.means)
            var feedForwardIn = InputEnergy(width: config.hiddenSize)

            // MLP: channels, on the input the pruned attention produced.
            let keepChannels = channelKeep[i]
            var mlpApplied = false
            if keepChannels < shape.feedForwardLength {
                let hidden = Activations(rows: rows, width: shape.feedForwardLength)
                // drift = dense stream − (pruned stream + dense MLP output): what the pruned MLP
                // should add on top of the dense MLP's output to land on the dense stream.
                let drift = denseStream.map { _ in Activations(rows: rows, width: config.hiddenSize) }
                runner.run(.feedForward, layer: l, weights: dense, shape: shape, input: x) { state, first in
                    feedForwardIn.add(state.xb, rows: T)
                    hidden.row(first).update(from: state.hb, count: runner.sequenceLength * hidden.width)
                    if let drift {
                        let n = runner.sequenceLength * config.hiddenSize
                        let d = drift.row(first), xp = x.row(first)
                        for k in 0..<n { d[k] = -(xp[k] + state.xb2[k]) }
                    }
                }
                if let drift, let xd = denseStream {
                    try advanceDense(through: l, weights: dense)
                    Ops.add(xd.pointer, into: drift.pointer, count: rows * config.hiddenSize)
                    // Each block makes up only part of the drift; the blocks after it see the rest.
                    let share = Float(settings.driftShare)
                    if share != 1 { for k in 0..<(rows * config.hiddenSize) { drift.pointer[k] *= share } }
                }
                let sel = selector.selectChannels(weights: dense, shape: shape, hidden: hidden, keep: keepChannels, drift: drift)
                if sel.kept.count < shape.feedForwardLength || sel.masks != nil {
                    plan.keptChannels = sel.kept
                    plan.channelMasks = sel.masks
                    plan.downBias = sel.bias
                }
                if sel.stoppedEarly { stoppedEarly.append(l) }
                let hiddenEnergy = hidden.columnMeanSquares()
                energy.hidden = sel.kept.map { hiddenEnergy[$0] }
                if plan.keptChannels != nil { plan.downInputEnergy = energy.hidden }
                w = try plan.apply(to: dense, shape: shape, config: config, outputType: writeType)
                s = try plan.shape(from: shape, config: config)
                if let refitted = sel.refitted {
                    w.down = WeightMatrix(values: refitted, rows: config.hiddenSize, columns: sel.kept.count,
                                          type: writeType ?? dense.down?.type ?? .q8_0,
                                          importance: energy.hidden)
                    plan.refitted = true
                }
                // Gate and up rows are kept unchanged, so the pruned MLP's hidden activations are
                // the captured ones restricted to the kept channels: only `down` needs running.
                if let down = w.down {
                    addProjection(down, of: hidden, columns: sel.kept, bias: w.downBias, postNorm: w.ffnPostNorm, to: x, pool: pool)
                    mlpApplied = true
                }
            }
            if !mlpApplied {
                var hiddenIn = InputEnergy(width: s.feedForwardLength)
                runner.apply(.feedForward, layer: l, weights: w, shape: s, to: x) { state in
                    feedForwardIn.add(state.xb, rows: T)
                    hiddenIn.add(state.hb, rows: T)
                }
                energy.hidden = hiddenIn.means
            }
            energy.feedForward = feedForwardIn.means

            try writer?.append(layer: w, index: i, inputEnergy: energy, sourceLayer: l,
                               rowSelections: plan.rowSelections(shape: shape, config: config))
            if keepEnergy { blockEnergy.append(energy) }
            planLayers.append(plan)
            newShapes.append(s)
            release(l)
        }

        var newConfig = config
        newConfig.layers = newShapes
        if config.slidingWindow > 0 { newConfig.slidingWindowLayers = kept.map { config.isSlidingWindow($0) } }
        let addedBiases = planLayers.reduce(0) { $0 + ($1.downBias?.count ?? 0) + ($1.attentionBias?.count ?? 0) }
        let after = totalParameters - layerParams.reduce(0, +) + newShapes.reduce(0) { $0 + counter.layer($1) } + addedBiases
        var plan = PrunePlan(method: settings.method, ratio: settings.ratio,
                             source: .init(path: source.path, fileSize: source.fileSize, blockCount: blocks, parameters: totalParameters),
                             layerImportance: importance, droppedLayers: dropped, layers: planLayers,
                             parametersAfter: after, calibrationTokens: calibration.tokenCount)
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
        if let writer, let outputPath {
            try checkStop("writing", blocks - 1)
            report("writing", blocks - 1)
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
        plan.compensation = settings.method == .comp ? settings.compensation : nil
        plan.target = settings.method == .comp ? settings.effectiveTarget : nil
        plan.driftShare = settings.method == .comp && settings.effectiveTarget == .stream ? settings.driftShare : nil
        if let planPath { try plan.write(to: planPath) }
        let report = PruneReport(method: settings.method.rawValue, ratioTarget: settings.ratio,
                           ratioAchieved: 1 - Double(after) / Double(totalParameters),
                           parametersBefore: totalParameters, parametersAfter: after,
                           parametersBeforeWithoutEmbedding: totalParameters - embeddingParameters,
                           parametersAfterWithoutEmbedding: after - embeddingParameters,
                           blocksBefore: blocks, blocksAfter: kept.count, droppedLayers: dropped,
                           layersStoppedEarly: stoppedEarly, outputPath: outputPath, outputBytes: outputBytes,
                           outputType: settings.outputType.map { "\($0)".lowercased() } ?? "source",
                           embeddingType: settings.embeddingType.map { "\($0)".lowercased() } ?? "source",
                           calibrationTokens: calibration.tokenCount, seconds: Clock.now() - started,
                           peakResidentBytes: ProcessMemory.peakResidentBytes)
        return (report, plan, blockEnergy, settings.embeddingType != nil ? outputIn.means : nil)
    }

    /// `x += postNorm(W · h[:, columns] + bias)` for every calibration token, with the same int8
    /// mat-mul the runtime uses (the norm only for models with post-norms, Gemma 3).
    func addProjection(_ w: WeightMatrix, of h: Activations, columns: [Int], bias: [Float]?, postNorm: [Float]?,
                       to x: Activations, pool: ThreadPool) {
        let chunk = 128, k = columns.count, dim = x.width
        var xin = MatmulInput(maxRows: chunk, maxColumns: k)
        let gathered = UnsafeMutablePointer<Float>.allocate(capacity: chunk * k)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: chunk * dim)
        defer { gathered.deallocate(); out.deallocate() }
        var r0 = 0
        while r0 < h.rows {
            let n = min(chunk, h.rows - r0)
            for r in 0..<n {
                let src = h.row(r0 + r), dst = gathered + r * k
                for (c, j) in columns.enumerated() { dst[c] = src[j] }
            }
            xin.prepare(gathered, rows: n, columns: k, for: w, pool: pool)
            pool.matmul(w, xin, into: out, outStride: dim)
            if let postNorm {
                for r in 0..<n {
                    let row = out + r * dim
                    if let bias { Ops.add(bias, into: row, count: dim) }
                    Ops.rmsNorm(row, weight: postNorm, count: dim, eps: config.normEpsilon, into: row)
                }
                Ops.add(out, into: x.row(r0), count: n * dim)
            } else {
                // x + W·h, then + bias: the order earlier outputs were made with (bit-identical files).
                Ops.add(out, into: x.row(r0), count: n * dim)
                if let bias { for r in 0..<n { Ops.add(bias, into: x.row(r0 + r), count: dim) } }
            }
            r0 += n
        }
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
