import GGUF
import LLMRuntime

/// One kept block in pass 2: its pruned weights and shape, what the plan records of it, and the
/// input energies its matrices are written with.
struct PrunedBlock {
    let source: Int
    /// The dense block's weights (the refit starts from its down projection).
    let dense: LayerWeights
    var weights: LayerWeights
    var shape: LayerShape
    var plan: PrunePlan.Layer
    var energy: BlockInputEnergy
    var feedForwardIn: InputEnergy
    /// Rows the writer copies from the source per matrix (nil: the plan's).
    var rowSelections: [String: [Int]?]?
    /// Times a unit selection stopped early in this block (attention, MLP).
    var stoppedEarly = 0
    /// The MLP's captured activations and kept channels, when only `down` is left to run.
    var hidden: (activations: Activations, columns: [Int])?
    /// The MLP has been run on the stream already.
    var feedForwardApplied = false
    /// What the refit trains on, when it runs.
    var refit: RefitData?
}

/// A block's refit: the MLP's normalized inputs and its target output, per calibration token.
struct RefitData {
    var inputs: Activations
    var target: Activations
    var selection: UnitSelection
}

/// Pass 2's results, block by block.
struct PrunedBlocks {
    var planLayers: [PrunePlan.Layer] = []
    var shapes: [LayerShape] = []
    var stoppedEarly: [Int] = []
    var energy: [BlockInputEnergy] = []
    var refit: [RefitRecord] = []

    mutating func add(_ block: PrunedBlock, keepEnergy: Bool) {
        if keepEnergy { energy.append(block.energy) }
        stoppedEarly += Array(repeating: block.source, count: block.stoppedEarly)
        planLayers.append(block.plan)
        shapes.append(block.shape)
    }
}

extension Pruner {
    /// Prunes block `l` on the pruned stream: chooses its KV groups (running the pruned attention
    /// on the stream) and its MLP channels and masks toward the target. The MLP is left for
    /// `passFeedForward` (after the refit, if any).
    func pruneBlock(_ l: Int, index i: Int, run: PruneRun, allocation: PruneAllocation, streams: PruneStreams) throws -> PrunedBlock {
        let target = allocation.target
        // With nothing to remove (a rewrite in other formats) the pass only measures inputs.
        try run.checkStop(target > 0 ? "pass 2 (neurons and masks)" : "pass 2 (input statistics)", l)
        run.report(target > 0 ? "pass 2: neurons and masks" : "pass 2: input statistics", l)
        let runner = run.runner, x = streams.x, rows = run.rows, T = runner.sequenceLength
        let writeType = settings.outputType
        let selector = NeuronSelector(settings: settings, config: config, pool: pool)
        let dense = try LayerWeights(file: source, config: config, layer: l)
        let shape = config.layers[l]
        var plan = PrunePlan.Layer(source: l, importance: allocation.importanceMeasured ? allocation.importance[l] : nil)
        var stoppedEarly = 0

        // Attention: KV groups.
        var w = dense
        var s = shape
        if let keepGroups = allocation.groupKeep[l], keepGroups < shape.kvHeadCount {
            let heads = Activations(rows: rows, width: shape.headCount * config.headDim)
            runner.run(.attention, layer: l, weights: dense, shape: shape, input: x) { state, first in
                heads.row(first).update(from: state.att, count: runner.sequenceLength * heads.width)
            }
            let sel = selector.selectGroups(weights: dense, shape: shape, heads: heads, keep: keepGroups)
            plan.keptKVHeads = sel.kept
            plan.groupMasks = sel.masks
            plan.attentionBias = sel.bias
            if sel.stoppedEarly { stoppedEarly += 1 }
            let headEnergy = heads.columnMeanSquares(), group = shape.headCount / shape.kvHeadCount, hd = config.headDim
            plan.outputInputEnergy = sel.kept.flatMap { u in (u * group * hd)..<((u + 1) * group * hd) }.map { headEnergy[$0] }
        }
        if plan.keptKVHeads != nil {
            w = try plan.apply(to: dense, shape: shape, config: config, outputType: writeType)
            s = try plan.shape(from: shape, config: config)
        }
        var attentionIn = InputEnergy(width: config.hiddenSize), headsOut = InputEnergy(width: s.headCount * config.headDim)
        runner.apply(.attention, layer: l, weights: w, shape: s, to: x) { state in
            attentionIn.add(state.xb, rows: T)
            headsOut.add(state.att, rows: T)
        }
        var block = PrunedBlock(source: l, dense: dense, weights: w, shape: s, plan: plan,
                                energy: BlockInputEnergy(attention: attentionIn.means, heads: headsOut.means),
                                feedForwardIn: InputEnergy(width: config.hiddenSize), stoppedEarly: stoppedEarly)

        // MLP: channels, on the input the pruned attention produced.
        let keepChannels = allocation.channelKeep[i]
        guard keepChannels < shape.feedForwardLength else { return block }
        let hidden = Activations(rows: rows, width: shape.feedForwardLength)
        // drift = dense stream − (pruned stream + dense MLP output): what the pruned MLP
        // should add on top of the dense MLP's output to land on the dense stream.
        let drift = allocation.streamTarget ? streams.dense.map { _ in Activations(rows: rows, width: config.hiddenSize) } : nil
        // The refit's inputs (the normalized MLP input) and target (the dense MLP's output,
        // plus the drift with the stream target).
        let refitting = settings.refit.steps > 0
        let refitIn = refitting ? Activations(rows: rows, width: config.hiddenSize) : nil
        let refitTarget = refitting ? Activations(rows: rows, width: config.hiddenSize) : nil
        runner.run(.feedForward, layer: l, weights: dense, shape: shape, input: x) { state, first in
            block.feedForwardIn.add(state.xb, rows: T)
            hidden.row(first).update(from: state.hb, count: runner.sequenceLength * hidden.width)
            refitIn?.row(first).update(from: state.xb, count: T * config.hiddenSize)
            refitTarget?.row(first).update(from: state.xb2, count: T * config.hiddenSize)
            if let drift {
                let n = runner.sequenceLength * config.hiddenSize
                let d = drift.row(first), xp = x.row(first)
                for k in 0..<n { d[k] = -(xp[k] + state.xb2[k]) }
            }
        }
        if allocation.denseInputs, let refitIn, let refitTarget, let xd = streams.dense {
            // The refit's inputs and target from the dense model: its MLP's normalized
            // input at this block, and the dense MLP's output on it.
            try streams.advanceDense(through: l - 1, weights: dense, of: l)
            let middle = xd.copy()
            runner.apply(.attention, layer: l, weights: dense, shape: shape, to: middle)
            runner.run(.feedForward, layer: l, weights: dense, shape: shape, input: middle) { state, first in
                refitIn.row(first).update(from: state.xb, count: T * config.hiddenSize)
                refitTarget.row(first).update(from: state.xb2, count: T * config.hiddenSize)
            }
        }
        if let drift, let xd = streams.dense {
            try streams.advanceDense(through: l, weights: dense, of: l)
            Ops.add(xd.pointer, into: drift.pointer, count: rows * config.hiddenSize)
            // Each block makes up only part of the drift; the blocks after it see the rest.
            let share = Float(settings.driftShare)
            if share != 1 { for k in 0..<(rows * config.hiddenSize) { drift.pointer[k] *= share } }
        }
        let sel = selector.selectChannels(weights: dense, shape: shape, hidden: hidden, keep: keepChannels, drift: drift)
        if sel.kept.count < shape.feedForwardLength || sel.masks != nil {
            block.plan.keptChannels = sel.kept
            block.plan.channelMasks = sel.masks
            block.plan.downBias = sel.bias
        }
        if sel.stoppedEarly { block.stoppedEarly += 1 }
        let hiddenEnergy = hidden.columnMeanSquares()
        block.energy.hidden = sel.kept.map { hiddenEnergy[$0] }
        if block.plan.keptChannels != nil { block.plan.downInputEnergy = block.energy.hidden }
        block.weights = try block.plan.apply(to: dense, shape: shape, config: config, outputType: writeType)
        block.shape = try block.plan.shape(from: shape, config: config)
        if let refitted = sel.refitted {
            block.weights.down = WeightMatrix(values: refitted, rows: config.hiddenSize, columns: sel.kept.count,
                                              type: writeType ?? dense.down?.type ?? .q8_0,
                                              importance: block.energy.hidden)
            block.plan.refitted = true
        }
        if let refitIn, let refitTarget {
            if let drift, !allocation.denseInputs { Ops.add(drift.pointer, into: refitTarget.pointer, count: rows * config.hiddenSize) }
            block.refit = RefitData(inputs: refitIn, target: refitTarget, selection: sel)
        } else {
            // Gate and up rows are kept unchanged, so the pruned MLP's hidden activations are
            // the captured ones restricted to the kept channels: only `down` needs running.
            block.hidden = (hidden, sel.kept)
        }
        return block
    }

    /// Runs the pruned block's MLP on the stream (only its down projection where the captured
    /// activations serve) and records the MLP's input energies.
    func passFeedForward(_ block: inout PrunedBlock, run: PruneRun, streams: PruneStreams) {
        let x = streams.x, T = run.runner.sequenceLength
        if let (hidden, kept) = block.hidden, let down = block.weights.down {
            addProjection(down, of: hidden, columns: kept, bias: block.weights.downBias, postNorm: block.weights.ffnPostNorm, to: x, pool: pool)
            block.feedForwardApplied = true
        }
        block.hidden = nil
        if !block.feedForwardApplied {
            var hiddenIn = InputEnergy(width: block.shape.feedForwardLength)
            var feedForwardIn = block.feedForwardIn
            run.runner.apply(.feedForward, layer: block.source, weights: block.weights, shape: block.shape, to: x) { state in
                feedForwardIn.add(state.xb, rows: T)
                hiddenIn.add(state.hb, rows: T)
            }
            block.feedForwardIn = feedForwardIn
            block.energy.hidden = hiddenIn.means
        }
        block.energy.feedForward = block.feedForwardIn.means
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
}
