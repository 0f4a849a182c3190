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

/// The MLP's gate non-linearity: SwiGLU (LLaMA, Qwen2) or GeGLU with the tanh GELU (Gemma).
public enum GateActivation: String, Sendable {
    case silu, geluTanh
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

    // Gemma 3's departures from LLaMA (defaults give LLaMA):
    public var embeddingScale: Float = 1    // token embeddings are multiplied by this (Gemma: sqrt(dim))
    public var gateActivation: GateActivation = .silu
    /// Per-head q/k RMSNorm and an RMSNorm on each sub-layer's output before the residual add.
    public var hasPostNorms = false
    public var attentionScale: Float        // q·k is multiplied by this (1/sqrt(headDim) unless a model says)
    /// Sliding-window attention: a layer marked in `slidingWindowLayers` sees only the last
    /// `slidingWindow` positions (itself included) and rotates with `ropeBaseSlidingWindow`.
    public var slidingWindow: Int = 0
    public var slidingWindowLayers: [Bool] = []
    public var ropeBaseSlidingWindow: Float = 10000
    /// Linear RoPE scaling (positions multiplied by this) on full-attention layers.
    public var ropeScale: Float = 1
    /// `logits = cap * tanh(logits / cap)` when non-zero.
    public var finalLogitSoftcap: Float = 0

    public var blockCount: Int { layers.count }

    /// Whether layer `l` attends over a sliding window.
    public func isSlidingWindow(_ l: Int) -> Bool {
        slidingWindow > 0 && l < slidingWindowLayers.count && slidingWindowLayers[l]
    }

    /// Architectures whose forward pass is implemented.
    /// `deci` is llama with per-layer shapes (what pruned llama models are written as).
    public static let runnableArchitectures: Set<String> = ["llama", "qwen2", "deci", "gemma3"]
    /// Architectures the pruner handles.
    public static let prunableArchitectures: Set<String> = ["llama", "qwen2", "deci", "gemma3"]
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
            // Sizes and counts beyond Int32 are corrupt (tensor dimensions stop there too), and
            // bounding them keeps products of two from overflowing.
            guard let i = v.intValue, i >= 0, i <= Int(Int32.max) else {
                throw .badModel(path: path, detail: "metadata '\(full)': expected a non-negative integer below 2^31, found \(v.summary())")
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
                    guard let i = item.intValue, i >= 0, i <= Int(Int32.max) else {
                        throw .badModel(path: path, detail: "metadata '\(full)': expected non-negative integers, found \(item.summary())")
                    }
                    out.append(i)
                }
                return out
            }
            guard let i = v.intValue, i >= 0, i <= Int(Int32.max) else {
                throw .badModel(path: path, detail: "metadata '\(full)': expected an integer or an array, found \(v.summary())")
            }
            return Array(repeating: i, count: count)
        }
        // Every floating-point hyper-parameter must be finite and in a range real models use: a
        // NaN base or epsilon runs, but every logit comes out NaN (garbage with exit 0).
        func float(_ key: String, default def: Float, valid: String, _ isValid: (Double) -> Bool) throws(ModelError) -> Float {
            let full = "\(arch).\(key)"
            guard let v = file[full] else { return def }
            guard let d = v.doubleValue else {
                throw .badModel(path: path, detail: "metadata '\(full)': expected a number, found \(v.summary())")
            }
            guard d.isFinite, isValid(d), Float(d).isFinite else {
                throw .badModel(path: path, detail: "metadata '\(full)' is \(d); expected \(valid)")
            }
            return Float(d)
        }
        // Keys this build does not read may still be read by another: none of them may be NaN or
        // infinite either (a sign of a corrupt header).
        for (key, value) in file.metadata where key.hasPrefix("\(arch).") {
            switch value {
            case .float32(let f) where !f.isFinite:
                throw .badModel(path: path, detail: "metadata '\(key)' is \(f); expected a finite number")
            case .float64(let d) where !d.isFinite:
                throw .badModel(path: path, detail: "metadata '\(key)' is \(d); expected a finite number")
            default: break
            }
        }

        let blocks = try int("block_count")
        guard blocks >= 1 else {
            throw .badModel(path: path, detail: "metadata '\(arch).block_count' is 0; a model has at least one block")
        }
        // Every block has tensors, so a count beyond the file's tensors is corrupt; checked before
        // the per-layer arrays are sized by it.
        let blockLimit = file.tensors.isEmpty ? 1 << 16 : file.tensors.count
        guard blocks <= blockLimit else {
            throw .badModel(path: path, detail: "metadata '\(arch).block_count' is \(blocks), but the file holds \(file.tensors.count) tensors")
        }
        let hidden = try int("embedding_length")
        guard hidden >= 1 else {
            throw .badModel(path: path, detail: "metadata '\(arch).embedding_length' is 0; expected the width of the embedding")
        }
        let heads = try perLayer("attention.head_count", count: blocks)
        let kvHeads = file["\(arch).attention.head_count_kv"] == nil
            ? heads : try perLayer("attention.head_count_kv", count: blocks)
        let ff = try perLayer("feed_forward_length", count: blocks)
        let maxHeads = heads.max() ?? 0
        let defaultHeadDim = maxHeads > 0 ? hidden / maxHeads : 0
        let headDim = try int("attention.key_length", default: defaultHeadDim)
        guard headDim >= 1 || maxHeads == 0 else {
            throw .badModel(path: path, detail: "attention heads of 0 values (metadata '\(arch).attention.key_length', or embedding_length / head_count)")
        }
        let vocab = try ModelConfig.vocabularySize(file: file, arch: arch)

        // Sizes the metadata gives must be the tensors' (where the file has them), before
        // anything counts parameters or sizes buffers by them: a corrupt width would overflow.
        func checkShape(_ name: String, _ expected: [Int], _ key: String) throws(ModelError) {
            guard let t = file.tensor(named: name), t.shape.count >= 2 else { return }
            guard Array(t.shape.prefix(2)) == expected else {
                throw .badModel(path: path, detail: "\(name): expected \(expected.map(String.init).joined(separator: " x ")) by metadata '\(arch).\(key)', found \(t.shapeDescription)")
            }
        }
        if let embd = file.tensor(named: "token_embd.weight"), embd.shape.count == 2, embd.shape[0] != hidden {
            throw .badModel(path: path, detail: "metadata '\(arch).embedding_length' is \(hidden), but token_embd.weight rows hold \(embd.shape[0]) values")
        }
        var layers: [LayerShape] = []
        for i in 0..<blocks {
            guard kvHeads[i] == 0 || heads[i] % kvHeads[i] == 0 else {
                throw .badModel(path: path, detail: "layer \(i): \(heads[i]) attention heads cannot be grouped over \(kvHeads[i]) KV heads")
            }
            try checkShape("blk.\(i).attn_q.weight", [hidden, heads[i] * headDim], "attention.head_count or key_length")
            try checkShape("blk.\(i).attn_k.weight", [hidden, kvHeads[i] * headDim], "attention.head_count_kv")
            try checkShape("blk.\(i).ffn_gate.weight", [hidden, ff[i]], "feed_forward_length")
            layers.append(LayerShape(headCount: heads[i], kvHeadCount: kvHeads[i], feedForwardLength: ff[i]))
        }
        self.architecture = arch
        self.name = file["general.name"]?.stringValue
        self.hiddenSize = hidden
        self.layers = layers
        self.headDim = headDim
        self.vocabularySize = vocab
        self.contextLength = try int("context_length", default: 2048)
        guard contextLength >= 1 else {
            throw .badModel(path: path, detail: "metadata '\(arch).context_length' is 0; expected the trained context (positions)")
        }
        self.ropeBase = try float("rope.freq_base", default: 10000, valid: ModelConfig.ropeBaseRange, ModelConfig.isRopeBase)
        self.ropeDimensions = try int("rope.dimension_count", default: headDim)
        guard ropeDimensions <= headDim, ropeDimensions % 2 == 0 else {
            throw .badModel(path: path, detail: "metadata '\(arch).rope.dimension_count' is \(ropeDimensions); RoPE rotates pairs within a head of \(headDim) values")
        }
        self.ropeStyle = arch == "llama" || arch == "deci" ? .normal : .neox  // qwen2, gemma3: NeoX
        self.normEpsilon = try float("attention.layer_norm_rms_epsilon", default: 1e-5,
                                     valid: "a number above 0 and at most 1") { $0 > 0 && $0 <= 1 }
        self.hasAttentionBias = file.tensor(named: "blk.0.attn_q.bias") != nil
        self.attentionScale = headDim > 0 ? 1 / Float(headDim).squareRoot() : 1
        if let v = file["\(arch).attention.value_length"]?.intValue, v != headDim {
            throw .unsupported(path: path, detail: "value heads of \(v) values with key heads of \(headDim) are not supported")
        }
        if let kind = file["\(arch).rope.scaling.type"]?.stringValue, kind != "none" {
            guard kind == "linear" else {
                throw .unsupported(path: path, detail: "RoPE scaling '\(kind)' is not supported (only linear)")
            }
            let factor = try float("rope.scaling.factor", default: 1, valid: "a factor from 0.0001 to 10000") { $0 >= 1e-4 && $0 <= 1e4 }
            self.ropeScale = 1 / factor
        }
        self.finalLogitSoftcap = try float("final_logit_softcapping", default: 0,
                                           valid: "0 (off) or a cap above 0 and at most 10000") { $0 >= 0 && $0 <= 10000 }

        if arch == "gemma3" {
            // As llama.cpp's gemma3: embeddings scaled by sqrt(dim), GeGLU, NeoX RoPE, and every
            // sixth layer global while the others use a sliding window with RoPE base 10000.
            self.embeddingScale = Float(hidden).squareRoot()
            self.gateActivation = .geluTanh
            self.hasPostNorms = true
            // gemma_pytorch scales queries by 1/sqrt(dim/heads) for the 27B model (62 layers).
            if blocks == 62, maxHeads > 0 { self.attentionScale = 1 / Float(hidden / maxHeads).squareRoot() }
            self.slidingWindow = try int("attention.sliding_window", default: 0)
            if slidingWindow > 0 {
                if let pattern = file["\(arch).attention.sliding_window_pattern"]?.arrayValue {
                    guard pattern.count == blocks else {
                        throw .badModel(path: path, detail: "metadata '\(arch).attention.sliding_window_pattern': expected \(blocks) values, found \(pattern.count)")
                    }
                    self.slidingWindowLayers = pattern.map { $0.boolValue ?? false }
                } else {
                    let period = try int("attention.sliding_window_pattern", default: 6)
                    self.slidingWindowLayers = (0..<blocks).map { period == 0 || $0 % period < period - 1 }
                }
                self.ropeBaseSlidingWindow = try float("rope.freq_base_swa", default: 10000, valid: ModelConfig.ropeBaseRange,
                                                       ModelConfig.isRopeBase)
            }
        }
    }

    /// RoPE bases of real models run from 10,000 to a few million; below 1 the rotation
    /// frequencies grow with the dimension instead of falling.
    static let ropeBaseRange = "a base above 1 and at most 1e12"
    static func isRopeBase(_ d: Double) -> Bool { d > 1 && d <= 1e12 }

    /// The vocabulary size: `token_embd`'s rows, which the token list (`tokenizer.ggml.tokens`)
    /// and `<arch>.vocab_size`, where present, must match (as llama.cpp requires): a token id
    /// without a row would be refused at run time, for some prompts and not others; a row
    /// without a token would never be produced by the tokenizer.
    static func vocabularySize(file: GGUFFile, arch: String) throws(ModelError) -> Int {
        let path = file.path
        let tokens = file["tokenizer.ggml.tokens"]?.arrayValue?.count
        let declared = file["\(arch).vocab_size"]
        var vocab = tokens ?? 0
        if let declared {
            guard let v = declared.intValue, v >= 1, v <= Int(Int32.max) else {
                throw .badModel(path: path, detail: "metadata '\(arch).vocab_size': expected a positive integer, found \(declared.summary())")
            }
            if let tokens, tokens != v {
                throw .badModel(path: path, detail: "metadata '\(arch).vocab_size' is \(v), but tokenizer.ggml.tokens holds \(tokens) tokens")
            }
            vocab = v
        }
        if let embd = file.tensor(named: "token_embd.weight"), embd.shape.count == 2 {
            if let tokens, tokens != embd.shape[1] {
                throw .badModel(path: path, detail: "token_embd.weight has \(embd.shape[1]) rows, but the vocabulary (tokenizer.ggml.tokens) has \(tokens) tokens: one row per token expected")
            }
            if declared != nil, vocab != embd.shape[1] {
                throw .badModel(path: path, detail: "token_embd.weight has \(embd.shape[1]) rows, but metadata '\(arch).vocab_size' is \(vocab)")
            }
            vocab = embd.shape[1]
        }
        guard vocab >= 1 else {
            throw .badModel(path: path, detail: "the vocabulary is empty (no tokenizer.ggml.tokens, and token_embd.weight has no rows)")
        }
        return vocab
    }
}
