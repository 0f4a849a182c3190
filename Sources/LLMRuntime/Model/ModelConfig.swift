import GGUF

/// How positions are rotated: `normal` rotates adjacent pairs (LLaMA as converted to GGUF),
/// `neox` rotates element i with i + d/2 (Qwen2, GPT-NeoX).
public enum RoPEStyle: String, Sendable {
    case normal, neox
}

/// The shape of one transformer block. Pruned models give every layer its own.
public struct LayerShape: Sendable, Hashable, Codable {
    public var headCount: Int
    public var kvHeadCount: Int
    public var feedForwardLength: Int

    public init(headCount: Int, kvHeadCount: Int, feedForwardLength: Int) {
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.feedForwardLength = feedForwardLength
    }
}

/// The hyperparameters of a model: the blueprint, separate from weights and run state.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var name: String?
    public var hiddenSize: Int              // d_model ("embedding_length")
    public var layers: [LayerShape]         // one per block
    public var headDim: Int                 // per attention head (key_length)
    public var vocabularySize: Int
    public var contextLength: Int           // trained context
    public var ropeBase: Float
    public var ropeDimensions: Int
    public var ropeStyle: RoPEStyle
    public var normEpsilon: Float
    public var hasAttentionBias: Bool       // Qwen2 adds biases to q, k, v

    public var blockCount: Int { layers.count }

    /// Architectures whose forward pass is implemented.
    /// `deci` is llama with per-layer shapes (what pruned llama models are written as).
    public static let runnableArchitectures: Set<String> = ["llama", "qwen2", "deci"]
}

extension ModelConfig {
    /// Reads the `<arch>.*` keys. Scalar or per-layer array values are both accepted for the
    /// head counts and feed-forward width (llama.cpp writes arrays for pruned models).
    public init(file: GGUFFile) throws(ModelError) {
        let path = file.path
        guard let arch = file["general.architecture"]?.stringValue else {
            throw .badModel(path: path, detail: "metadata 'general.architecture' is missing: not a model file (a vocabulary-only file?)")
        }
        func int(_ key: String, default def: Int? = nil) throws(ModelError) -> Int {
            let full = "\(arch).\(key)"
            guard let v = file[full] else {
                if let def { return def }
                throw .badModel(path: path, detail: "metadata '\(full)' is missing")
            }
            guard let i = v.intValue, i >= 0 else {
                throw .badModel(path: path, detail: "metadata '\(full)': expected a non-negative integer, found \(v.summary())")
            }
            return i
        }
        func perLayer(_ key: String, count: Int, default def: Int? = nil) throws(ModelError) -> [Int] {
            let full = "\(arch).\(key)"
            guard let v = file[full] else {
                if let def { return Array(repeating: def, count: count) }
                throw .badModel(path: path, detail: "metadata '\(full)' is missing")
            }
            if let items = v.arrayValue {
                guard items.count == count else {
                    throw .badModel(path: path, detail: "metadata '\(full)': expected \(count) values (one per layer), found \(items.count)")
                }
                var out: [Int] = []
                for item in items {
                    guard let i = item.intValue, i >= 0 else {
                        throw .badModel(path: path, detail: "metadata '\(full)': expected non-negative integers, found \(item.summary())")
                    }
                    out.append(i)
                }
                return out
            }
            guard let i = v.intValue, i >= 0 else {
                throw .badModel(path: path, detail: "metadata '\(full)': expected an integer or an array, found \(v.summary())")
            }
            return Array(repeating: i, count: count)
        }
        func float(_ key: String, default def: Float) throws(ModelError) -> Float {
            let full = "\(arch).\(key)"
            guard let v = file[full] else { return def }
            guard let d = v.doubleValue else {
                throw .badModel(path: path, detail: "metadata '\(full)': expected a number, found \(v.summary())")
            }
            return Float(d)
        }

        let blocks = try int("block_count")
        let hidden = try int("embedding_length")
        let heads = try perLayer("attention.head_count", count: blocks)
        let kvHeads = file["\(arch).attention.head_count_kv"] == nil
            ? heads : try perLayer("attention.head_count_kv", count: blocks)
        let ff = try perLayer("feed_forward_length", count: blocks)
        let maxHeads = heads.max() ?? 0
        let defaultHeadDim = maxHeads > 0 ? hidden / maxHeads : 0
        let headDim = try int("attention.key_length", default: defaultHeadDim)
        var vocab = file["tokenizer.ggml.tokens"]?.arrayValue?.count ?? 0
        if let v = file["\(arch).vocab_size"]?.intValue { vocab = v }
        if let embd = file.tensor(named: "token_embd.weight"), embd.shape.count == 2 { vocab = embd.shape[1] }

        var layers: [LayerShape] = []
        for i in 0..<blocks {
            guard kvHeads[i] == 0 || heads[i] % kvHeads[i] == 0 else {
                throw .badModel(path: path, detail: "layer \(i): \(heads[i]) attention heads cannot be grouped over \(kvHeads[i]) KV heads")
            }
            layers.append(LayerShape(headCount: heads[i], kvHeadCount: kvHeads[i], feedForwardLength: ff[i]))
        }
        self.architecture = arch
        self.name = file["general.name"]?.stringValue
        self.hiddenSize = hidden
        self.layers = layers
        self.headDim = headDim
        self.vocabularySize = vocab
        self.contextLength = try int("context_length", default: 2048)
        self.ropeBase = try float("rope.freq_base", default: 10000)
        self.ropeDimensions = try int("rope.dimension_count", default: headDim)
        self.ropeStyle = arch == "llama" || arch == "deci" ? .normal : .neox
        self.normEpsilon = try float("attention.layer_norm_rms_epsilon", default: 1e-5)
        self.hasAttentionBias = file.tensor(named: "blk.0.attn_q.bias") != nil
    }
}
