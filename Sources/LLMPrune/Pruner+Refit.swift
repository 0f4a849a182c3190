import GGUF
import LLMRuntime

/// What the refit did to one block, for the report.
public struct RefitRecord: Codable, Sendable {
    public var layer: Int
    public var steps: Int
    public var heldOutBefore: Double
    public var heldOutAfter: Double
    public var seconds: Double
}

extension Pruner {
    /// Refit step of a pruned block: trains its MLP toward the refit target and takes the
    /// trained gate and up whole (the writer no longer copies their rows from the source).
    func refitBlock(_ block: inout PrunedBlock, _ data: RefitData, run: PruneRun) throws -> RefitRecord {
        let l = block.source
        try run.checkStop("refit", l)
        run.report("pass 2: refit", l)
        let (refitted, record) = refitMLP(dense: block.dense, pruned: block.weights, selection: data.selection, inputs: data.inputs,
                                          target: data.target, sequenceLength: run.runner.sequenceLength,
                                          feedForwardEnergy: block.feedForwardIn.means, hiddenEnergy: block.energy.hidden,
                                          outputType: settings.outputType, layer: l)
        block.weights = refitted
        block.plan.refitted = true
        block.refit = nil
        // Gate and up changed: the MLP runs whole on the stream.
        var selections = block.plan.rowSelections(shape: config.layers[l], config: config)
        selections["ffn_gate.weight"] = nil
        selections["ffn_up.weight"] = nil
        block.rowSelections = selections
        return record
    }

    /// Trains the mask-tuned MLP of `pruned` (kept rows of gate/up, kept and scaled columns of
    /// down, bias) toward `target` on `inputs`, then requantizes it as the pruned block's
    /// matrices are (`outputType`, else each matrix's own kernel format, fitted to its inputs'
    /// energies).
    func refitMLP(dense: LayerWeights, pruned w: LayerWeights, selection sel: UnitSelection,
                  inputs: Activations, target: Activations, sequenceLength: Int, feedForwardEnergy: [Float]?, hiddenEnergy: [Float]?,
                  outputType: GGMLType?, layer: Int) -> (LayerWeights, RefitRecord) {
        let started = Clock.now()
        guard let gate = w.gate, let up = w.up, let denseDown = dense.down else {
            return (w, RefitRecord(layer: layer, steps: 0, heldOutBefore: 0, heldOutAfter: 0, seconds: 0))
        }
        let dim = config.hiddenSize, k = sel.kept.count, ff = denseDown.columns
        let down: [Float]
        if let r = sel.refitted {
            down = r
        } else {
            let full = denseDown.dequantized()
            var d = [Float](repeating: 0, count: dim * k)
            for r in 0..<dim {
                for (c, j) in sel.kept.enumerated() { d[r * k + c] = full[r * ff + j] * (sel.masks?[c] ?? 1) }
            }
            down = d
        }
        let start = SwiGLUParameters(dim: dim, width: k, gate: gate.dequantized(), up: up.dequantized(), down: down,
                                     bias: w.downBias)
        let (fitted, outcome) = BlockRefit.fit(start, inputs: inputs, target: target, sequenceLength: sequenceLength,
                                               settings: settings.refit, seed: UInt64(layer),
                                               trainBias: settings.biasCompensation, pool: pool)
        var out = w
        out.gate = WeightMatrix(values: fitted.gate, rows: k, columns: dim, type: outputType ?? gate.type, importance: feedForwardEnergy)
        out.up = WeightMatrix(values: fitted.up, rows: k, columns: dim, type: outputType ?? up.type, importance: feedForwardEnergy)
        out.down = WeightMatrix(values: fitted.down, rows: dim, columns: k, type: outputType ?? denseDown.type, importance: hiddenEnergy)
        // Only architectures whose loaders read `ffn_down.bias` get one (see `Pruner.adjusted`).
        if settings.biasCompensation { out.downBias = fitted.bias }
        return (out, RefitRecord(layer: layer, steps: outcome.steps, heldOutBefore: outcome.heldOutBefore,
                                 heldOutAfter: outcome.heldOutAfter, seconds: Clock.now() - started))
    }
}
