import Foundation
import GGUF
import LLMRuntime

/// What a pruning run removed, and the masks it tuned: enough to write the pruned model, or to
/// apply the same pruning in place when a model is loaded (`--prune-plan`).
public struct PrunePlan: Codable, Sendable {
    public struct Source: Codable, Sendable {
        public var path: String
        public var fileSize: Int
        public var blockCount: Int
        public var parameters: Int
    }

    /// One kept block of the source.
    public struct Layer: Codable, Sendable {
        /// Index of the block in the source model.
        public var source: Int
        /// Kept KV heads (each with its query heads), ascending; nil keeps all.
        public var keptKVHeads: [Int]?
        /// Masks of the kept KV groups, folded into the output projection's columns.
        public var groupMasks: [Float]?
        /// Added to the attention output projection's bias (dim): the removed KV groups' mean
        /// output, less what the kept groups' masks already make up.
        public var attentionBias: [Float]?
        /// Kept MLP channels, ascending; nil keeps all.
        public var keptChannels: [Int]?
        /// Masks of the kept channels, folded into the down projection's columns.
        public var channelMasks: [Float]?
        /// Added to the down projection's bias (dim): the removed channels' mean output, less
        /// what the kept channels' masks already make up.
        public var downBias: [Float]?
        /// Mean square of each kept channel's activation over the calibration tokens (aligned
        /// with `keptChannels`): the weights the requantized down projection's blocks were fitted
        /// with, so the plan applied at load requantizes it exactly as the written file holds it.
        public var downInputEnergy: [Float]?
        /// The same for the attention output projection's kept inputs (the kept heads' values),
        /// recorded when that projection is edited.
        public var outputInputEnergy: [Float]?
        /// Importance of the block (1 − mean cos) measured in pass 1.
        public var importance: Double?
        public var stoppedEarly: Bool?
        /// The down projection was re-fitted (its weights are only in the written model).
        public var refitted: Bool?
    }

    public var version = 1
    public var method: PruneMethod
    public var ratio: Double
    public var source: Source
    public var layerImportance: [Double]
    public var droppedLayers: [Int]
    public var layers: [Layer]
    public var parametersAfter: Int
    public var calibrationTokens: Int
    public var compensation: Compensation?
    /// What the masks were tuned to reproduce (for the record; applying a plan only needs them).
    public var target: ReconstructionTarget?
    /// With the stream target, the share of the stream's drift each block made up.
    public var driftShare: Double?

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: path)
    }

    public static func read(from path: String) throws -> PrunePlan {
        guard let data = FileManager.default.contents(atPath: path) else { throw GGUFError.fileNotFound(path: path) }
        do {
            return try JSONDecoder().decode(PrunePlan.self, from: data)
        } catch {
            throw PruneError.badPlan("\(path): not a prune plan written by llmrun (\(error))")
        }
    }

    /// The pruned config: kept blocks with their new shapes.
    public func apply(to config: ModelConfig) throws -> ModelConfig {
        var out = config
        out.layers = try layers.map { l in
            guard l.source >= 0, l.source < config.blockCount else {
                throw PruneError.badPlan("block \(l.source) does not exist in a \(config.blockCount)-block model")
            }
            return try l.shape(from: config.layers[l.source], config: config)
        }
        if config.slidingWindow > 0 { out.slidingWindowLayers = layers.map { config.isSlidingWindow($0.source) } }
        return out
    }

    /// Applies the plan to a loaded model (config and weights), in memory.
    public func apply(config: inout ModelConfig, weights: inout ModelWeights) throws {
        let newConfig = try transformedConfig(config).config
        // Edited matrices keep the format they were loaded in, as a pruned file keeps its
        // parent's by default: the model in memory is the one such a file holds.
        weights.layers = try layers.map { l in
            try l.apply(to: weights.layers[l.source], shape: config.layers[l.source], config: config, outputType: nil)
        }
        config = newConfig
    }
}

/// Applied at load block by block (`--prune-plan`, `serve --budget`): edited matrices keep the
/// format they were loaded in, as a pruned file keeps its parent's by default.
extension PrunePlan: LoadTransform {
    public func transformedConfig(_ config: ModelConfig) throws -> (config: ModelConfig, sourceLayers: [Int]) {
        if layers.contains(where: { $0.refitted == true }) {
            throw PruneError.badPlan("this plan re-fitted weights (--compensation refit), which only the written model holds; load that file instead")
        }
        guard source.blockCount == config.blockCount else {
            throw PruneError.badPlan("made for a model with \(source.blockCount) blocks, this one has \(config.blockCount)")
        }
        return (try apply(to: config), layers.map(\.source))
    }

    public func transformLayer(_ dense: LayerWeights, index: Int, source config: ModelConfig) throws -> LayerWeights {
        let l = layers[index]
        return try l.apply(to: dense, shape: config.layers[l.source], config: config, outputType: nil)
    }
}

extension PrunePlan.Layer {
    func shape(from s: LayerShape, config: ModelConfig) throws -> LayerShape {
        let group = s.kvHeadCount > 0 ? s.headCount / s.kvHeadCount : 0
        let kv = keptKVHeads?.count ?? s.kvHeadCount
        let ff = keptChannels?.count ?? s.feedForwardLength
        if let k = keptKVHeads, let bad = k.first(where: { $0 < 0 || $0 >= s.kvHeadCount }) {
            throw PruneError.badPlan("block \(source): KV head \(bad) does not exist (it has \(s.kvHeadCount))")
        }
        if let k = keptChannels, let bad = k.first(where: { $0 < 0 || $0 >= s.feedForwardLength }) {
            throw PruneError.badPlan("block \(source): channel \(bad) does not exist (it has \(s.feedForwardLength))")
        }
        if let m = groupMasks, m.count != kv { throw PruneError.badPlan("block \(source): \(m.count) group masks for \(kv) groups") }
        if let m = channelMasks, m.count != ff { throw PruneError.badPlan("block \(source): \(m.count) channel masks for \(ff) channels") }
        if let e = downInputEnergy, e.count != ff { throw PruneError.badPlan("block \(source): \(e.count) channel energies for \(ff) channels") }
        if let e = outputInputEnergy, e.count != kv * group * config.headDim {
            throw PruneError.badPlan("block \(source): \(e.count) attention output energies for \(kv * group * config.headDim) inputs")
        }
        if let b = downBias, b.count != config.hiddenSize {
            throw PruneError.badPlan("block \(source): a down bias of \(b.count) values for a hidden size of \(config.hiddenSize)")
        }
        if let b = attentionBias, b.count != config.hiddenSize {
            throw PruneError.badPlan("block \(source): an attention output bias of \(b.count) values for a hidden size of \(config.hiddenSize)")
        }
        return LayerShape(headCount: kv * group, kvHeadCount: kv, feedForwardLength: ff)
    }

    /// The block's matrices that this plan only selects rows of (nil: all rows), by tensor name
    /// suffix ("attn_q.weight"); a matrix it edits otherwise (columns selected or scaled) is
    /// absent. A pruned file that keeps its parent's formats copies these rows' bytes from the
    /// source tensors, whatever format they are in.
    func rowSelections(shape s: LayerShape, config: ModelConfig) -> [String: [Int]?] {
        let hd = config.headDim
        var out: [String: [Int]?] = [:]
        if let kvKept = keptKVHeads, kvKept.count != s.kvHeadCount {
            let group = s.headCount / s.kvHeadCount
            let qRows = kvKept.flatMap { u in (u * group)..<((u + 1) * group) }.flatMap { h in (h * hd)..<((h + 1) * hd) }
            let kvRows = kvKept.flatMap { u in (u * hd)..<((u + 1) * hd) }
            out["attn_q.weight"] = .some(qRows)
            out["attn_k.weight"] = .some(kvRows)
            out["attn_v.weight"] = .some(kvRows)
        } else {
            for name in ["attn_q.weight", "attn_k.weight", "attn_v.weight"] { out[name] = .some(nil) }
            if groupMasks?.contains(where: { $0 != 1 }) != true { out["attn_output.weight"] = .some(nil) }
        }
        if let kept = keptChannels, kept.count != s.feedForwardLength || channelMasks?.contains(where: { $0 != 1 }) == true || refitted == true {
            out["ffn_gate.weight"] = .some(kept)
            out["ffn_up.weight"] = .some(kept)
        } else {
            for name in ["ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"] { out[name] = .some(nil) }
        }
        return out
    }

    /// The block's weights with this plan's rows and columns kept and masks folded in. Edited
    /// projections are requantized to `outputType` (nil: each to its own format), their blocks
    /// fitted with the recorded input energies (equal weights for a plan without them).
    public func apply(to w: LayerWeights, shape s: LayerShape, config: ModelConfig, outputType: GGMLType?) throws -> LayerWeights {
        var out = w
        let hd = config.headDim
        if let kvKept = keptKVHeads, kvKept.count != s.kvHeadCount {
            let group = s.headCount / s.kvHeadCount
            let qHeads = kvKept.flatMap { u in (u * group)..<((u + 1) * group) }
            let qRows = qHeads.flatMap { h in (h * hd)..<((h + 1) * hd) }
            let kvRows = kvKept.flatMap { u in (u * hd)..<((u + 1) * hd) }
            let columnScales = groupMasks.map { m in kvKept.indices.flatMap { i in repeatElement(m[i], count: group * hd) } }
            out.wq = w.wq?.selectingRows(qRows)
            out.wk = w.wk?.selectingRows(kvRows)
            out.wv = w.wv?.selectingRows(kvRows)
            out.wo = w.wo?.selectingColumns(qRows, scales: columnScales, as: outputType ?? w.wo!.type,
                                            importance: outputInputEnergy)
            out.bq = w.bq.map { b in qRows.map { b[$0] } }
            out.bk = w.bk.map { b in kvRows.map { b[$0] } }
            out.bv = w.bv.map { b in kvRows.map { b[$0] } }
        } else if let m = groupMasks, m.contains(where: { $0 != 1 }), let wo = w.wo {
            let group = s.kvHeadCount > 0 ? s.headCount / s.kvHeadCount : 0
            let scales = m.flatMap { repeatElement($0, count: group * hd) }
            out.wo = wo.selectingColumns(Array(0..<wo.columns), scales: scales, as: outputType ?? wo.type,
                                         importance: outputInputEnergy)
        }
        if let kept = keptChannels, kept.count != s.feedForwardLength || channelMasks?.contains(where: { $0 != 1 }) == true {
            if kept.count % 32 != 0 {
                throw PruneError.badPlan("block \(source): \(kept.count) MLP channels kept; rows must hold a multiple of 32")
            }
            out.gate = w.gate?.selectingRows(kept)
            out.up = w.up?.selectingRows(kept)
            out.down = w.down?.selectingColumns(kept, scales: channelMasks, as: outputType ?? w.down!.type,
                                                importance: downInputEnergy)
        }
        if let b = downBias, out.down != nil {
            let base = w.downBias ?? [Float](repeating: 0, count: b.count)
            out.downBias = zip(base, b).map { $0 + $1 }
        }
        if let b = attentionBias, out.wo != nil {
            let base = w.woBias ?? [Float](repeating: 0, count: b.count)
            out.woBias = zip(base, b).map { $0 + $1 }
        }
        return out
    }
}
