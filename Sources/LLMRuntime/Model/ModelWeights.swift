import CKernels
import GGUF

/// The token embedding table, kept in its file format: rows are dequantized on lookup (and
/// multiplied by the model's `embeddingScale`, Gemma's sqrt(dim)).
public struct EmbeddingTable: @unchecked Sendable {
    public let type: GGMLType
    public let vocabularySize: Int
    public let dimension: Int
    public let rowBytes: Int
    public let data: UnsafeRawPointer   // (vocab, dim)
    public let scale: Float
    /// The matrix the rows are read from when the table is held in memory in another format
    /// than the file's (a budget plan's); nil: rows are read from the file at `data`.
    public fileprivate(set) var matrix: WeightMatrix?

    /// Binds `token_embd.weight` in place, whatever its format.
    public init(file: GGUFFile, config: ModelConfig) throws(ModelError) {
        let embd = try TensorBinder(file: file).tensor("token_embd.weight", shape: [config.hiddenSize, config.vocabularySize])
        guard TensorConversion.canDequantize(embd.type) else {
            throw .unsupported(path: file.path, detail: "token_embd.weight: tensor type \(embd.type) is not supported by this build")
        }
        self.type = embd.type
        self.vocabularySize = config.vocabularySize
        self.dimension = config.hiddenSize
        self.rowBytes = embd.rowBytes
        self.data = file.data(for: embd).baseAddress!
        self.scale = config.embeddingScale
    }

    /// A table held in `matrix` (vocab rows of dim), in either layout: a tied output matrix can
    /// be the same memory.
    public init(matrix: WeightMatrix, scale: Float) {
        self.type = matrix.type
        self.vocabularySize = matrix.rows
        self.dimension = matrix.columns
        self.rowBytes = matrix.rowBytes
        self.data = matrix.data
        self.scale = scale
        self.matrix = matrix
    }

    public func lookup(_ token: Int32, into out: UnsafeMutablePointer<Float>) {
        if let matrix {
            matrix.dequantizeRow(Int(token), into: out)
        } else {
            _ = lr_dequantize_row(Int32(type.rawValue), data + Int(token) * rowBytes, out, Int64(dimension))
        }
        if scale != 1 { for i in 0..<dimension { out[i] *= scale } }
    }
}

/// One transformer block's weights. Attention or MLP may be absent in a pruned layer.
public struct LayerWeights: @unchecked Sendable {
    public var attentionNorm: [Float]       // (dim)
    public var wq: WeightMatrix?            // (nHeads*headDim, dim)
    public var wk: WeightMatrix?            // (nKVHeads*headDim, dim)
    public var wv: WeightMatrix?            // (nKVHeads*headDim, dim)
    public var wo: WeightMatrix?            // (dim, nHeads*headDim)
    public var woBias: [Float]?             // (dim), written by pruning to make up removed KV groups' mean
    public var bq: [Float]?                 // (nHeads*headDim), Qwen2
    public var bk: [Float]?                 // (nKVHeads*headDim)
    public var bv: [Float]?                 // (nKVHeads*headDim)
    public var ffnNorm: [Float]             // (dim)
    public var gate: WeightMatrix?          // (ff, dim)   "w1"
    public var up: WeightMatrix?            // (ff, dim)   "w3"
    public var down: WeightMatrix?          // (dim, ff)   "w2"
    public var downBias: [Float]?           // (dim), written by pruning to make up removed channels' mean
    // Gemma 3:
    public var qNorm: [Float]?              // (headDim) RMSNorm of every query head before RoPE
    public var kNorm: [Float]?              // (headDim) RMSNorm of every key head before RoPE
    public var attentionPostNorm: [Float]?  // (dim) RMSNorm of the attention output before the residual add
    public var ffnPostNorm: [Float]?        // (dim) RMSNorm of the MLP output before the residual add

    public init(attentionNorm: [Float], wq: WeightMatrix?, wk: WeightMatrix?, wv: WeightMatrix?, wo: WeightMatrix?,
                bq: [Float]?, bk: [Float]?, bv: [Float]?, ffnNorm: [Float],
                gate: WeightMatrix?, up: WeightMatrix?, down: WeightMatrix?, downBias: [Float]? = nil,
                woBias: [Float]? = nil, qNorm: [Float]? = nil, kNorm: [Float]? = nil,
                attentionPostNorm: [Float]? = nil, ffnPostNorm: [Float]? = nil) {
        self.attentionNorm = attentionNorm
        self.wq = wq; self.wk = wk; self.wv = wv; self.wo = wo
        self.bq = bq; self.bk = bk; self.bv = bv
        self.ffnNorm = ffnNorm
        self.gate = gate; self.up = up; self.down = down
        self.downBias = downBias
        self.woBias = woBias
        self.qNorm = qNorm; self.kNorm = kNorm
        self.attentionPostNorm = attentionPostNorm; self.ffnPostNorm = ffnPostNorm
    }
}

extension LayerWeights {
    /// Binds block `i` of a file, checking every tensor's shape against the config.
    public init(file: GGUFFile, config: ModelConfig, layer i: Int) throws(ModelError) {
        let binder = TensorBinder(file: file)
        let dim = config.hiddenSize, hd = config.headDim
        let shape = config.layers[i]
        let p = "blk.\(i)."
        let qDim = shape.headCount * hd, kvDim = shape.kvHeadCount * hd, ff = shape.feedForwardLength
        let hasAttention = shape.headCount > 0
        let hasMLP = ff > 0
        // The q/k and post-norms are required where the config says the model has them (as
        // llama.cpp), and read if present elsewhere.
        func extraNorm(_ name: String, count: Int) throws(ModelError) -> [Float]? {
            config.hasPostNorms ? try binder.vector(name, count: count) : try binder.optionalVector(name, count: count)
        }
        self.init(
            attentionNorm: try binder.vector(p + "attn_norm.weight", count: dim),
            wq: hasAttention ? try binder.matrix(p + "attn_q.weight", rows: qDim, columns: dim) : nil,
            wk: hasAttention ? try binder.matrix(p + "attn_k.weight", rows: kvDim, columns: dim) : nil,
            wv: hasAttention ? try binder.matrix(p + "attn_v.weight", rows: kvDim, columns: dim) : nil,
            wo: hasAttention ? try binder.matrix(p + "attn_output.weight", rows: dim, columns: qDim) : nil,
            bq: hasAttention ? try binder.optionalVector(p + "attn_q.bias", count: qDim) : nil,
            bk: hasAttention ? try binder.optionalVector(p + "attn_k.bias", count: kvDim) : nil,
            bv: hasAttention ? try binder.optionalVector(p + "attn_v.bias", count: kvDim) : nil,
            ffnNorm: try binder.vector(p + "ffn_norm.weight", count: dim),
            gate: hasMLP ? try binder.matrix(p + "ffn_gate.weight", rows: ff, columns: dim) : nil,
            up: hasMLP ? try binder.matrix(p + "ffn_up.weight", rows: ff, columns: dim) : nil,
            down: hasMLP ? try binder.matrix(p + "ffn_down.weight", rows: dim, columns: ff) : nil,
            downBias: hasMLP ? try binder.optionalVector(p + "ffn_down.bias", count: dim) : nil,
            woBias: hasAttention ? try binder.optionalVector(p + "attn_output.bias", count: dim) : nil,
            qNorm: hasAttention ? try extraNorm(p + "attn_q_norm.weight", count: hd) : nil,
            kNorm: hasAttention ? try extraNorm(p + "attn_k_norm.weight", count: hd) : nil,
            attentionPostNorm: try extraNorm(p + "post_attention_norm.weight", count: dim),
            ffnPostNorm: try extraNorm(p + "post_ffw_norm.weight", count: dim))
    }
}

/// All weights of a model, bound to the tensors of a GGUF file (views, no copies, for
/// formats with a native kernel).
public struct ModelWeights: @unchecked Sendable {
    public var tokenEmbedding: EmbeddingTable   // (vocab, dim)
    public var layers: [LayerWeights]
    public var outputNorm: [Float]              // (dim)
    public var output: WeightMatrix             // (vocab, dim); token_embd when tied
    /// Keeps the mapping alive as long as any view onto it.
    public let file: GGUFFile

    public init(file: GGUFFile, config: ModelConfig) throws(ModelError) {
        let binder = TensorBinder(file: file)
        tokenEmbedding = try EmbeddingTable(file: file, config: config)
        var layers: [LayerWeights] = []
        for i in config.layers.indices {
            layers.append(try LayerWeights(file: file, config: config, layer: i))
        }
        self.layers = layers
        outputNorm = try binder.vector("output_norm.weight", count: config.hiddenSize)
        output = try ModelWeights.bindOutput(binder, config: config)
        self.file = file
    }

    /// Binds a file's weights through `transform`, block by block: each block is bound dense,
    /// edited, and its file pages dropped (views still needed fault back in) before the next.
    public init(file: GGUFFile, config: ModelConfig, transform: any LoadTransform) throws {
        let binder = TensorBinder(file: file)
        var layers: [LayerWeights] = []
        for (i, source) in try transform.transformedConfig(config).sourceLayers.enumerated() {
            let dense = try LayerWeights(file: file, config: config, layer: source)
            layers.append(try transform.transformLayer(dense, index: i, source: config))
            for t in file.tensors where t.name.hasPrefix("blk.\(source).") { file.releasePages(of: t) }
        }
        self.layers = layers
        outputNorm = try binder.vector("output_norm.weight", count: config.hiddenSize)
        if let (embedding, output) = try transform.transformedEmbedding(file: file, config: config) {
            tokenEmbedding = embedding
            self.output = output
        } else {
            tokenEmbedding = try EmbeddingTable(file: file, config: config)
            output = try ModelWeights.bindOutput(binder, config: config)
        }
        self.file = file
    }

    /// The output matrix; an absent one means it is tied to the embedding.
    private static func bindOutput(_ binder: TensorBinder, config: ModelConfig) throws(ModelError) -> WeightMatrix {
        let name = binder.file.tensor(named: "output.weight") != nil ? "output.weight" : "token_embd.weight"
        return try binder.matrix(name, rows: config.vocabularySize, columns: config.hiddenSize)
    }
}

extension ModelWeights {
    /// Moves every matrix the active kernels run faster interleaved (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) to the x8
    /// layout: a view onto the file into memory of its own, dropping the file pages as it goes;
    /// a matrix converted at load within its buffer. Resident memory holds one copy. Done last
    /// at load: pruning and in-place plans edit rows, and the writer reads them, in the file layout.
    public mutating func interleaveForKernels(pool: ThreadPool) {
        // No copy of a matrix is held across `interleaving`, which packs in place only when it
        // holds the sole reference to the buffer.
        func convert(_ m: inout WeightMatrix?) {
            guard m?.prefersInterleaved == true else { return }
            if m?.owner == nil {
                m = m?.interleaved(pool: pool) { start, count in file.releasePages(at: start, count: count) }
            } else {
                m = WeightMatrix.interleaving(&m, pool: pool)  // converted at load: within its buffer
            }
        }
        for i in layers.indices {
            convert(&layers[i].wq); convert(&layers[i].wk); convert(&layers[i].wv); convert(&layers[i].wo)
            convert(&layers[i].gate); convert(&layers[i].up); convert(&layers[i].down)
        }
        // An embedding held in memory as the tied output matrix lets go of it while it is
        // packed (in place only with a sole reference), then reads the packed rows.
        let shared = tokenEmbedding.matrix.map { $0.data == output.data } ?? false
        if shared { tokenEmbedding.matrix = nil }
        var out: WeightMatrix? = output
        // An empty view in its place while it is packed, so `out` holds the only reference.
        output = WeightMatrix(type: output.type, rows: 0, columns: output.columns, data: output.data, owner: nil)
        convert(&out)
        output = out!
        if shared { tokenEmbedding = EmbeddingTable(matrix: output, scale: tokenEmbedding.scale) }
    }
}

/// Looks tensors up by name and checks their shapes, naming the tensor when they differ.
struct TensorBinder {
    let file: GGUFFile

    func tensor(_ name: String, shape: [Int]) throws(ModelError) -> GGUFTensorInfo {
        guard let t = file.tensor(named: name) else {
            throw .badModel(path: file.path, detail: "tensor '\(name)' is missing")
        }
        // Trailing 1s are insignificant in ggml shapes.
        var found = t.shape
        while found.count > shape.count, found.last == 1 { found.removeLast() }
        guard found == shape else {
            throw .badModel(path: file.path, detail: "\(name): expected \(shape.map(String.init).joined(separator: " x ")), found \(t.shapeDescription)")
        }
        return t
    }

    func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
        try WeightMatrix(tensor: try tensor(name, shape: [columns, rows]), in: file)
    }

    func vector(_ name: String, count: Int) throws(ModelError) -> [Float] {
        let t = try tensor(name, shape: [count])
        guard TensorConversion.canDequantize(t.type) else {
            throw .unsupported(path: file.path, detail: "\(name): tensor type \(t.type) is not supported by this build")
        }
        return TensorConversion.floats(of: t, in: file)
    }

    func optionalVector(_ name: String, count: Int) throws(ModelError) -> [Float]? {
        file.tensor(named: name) == nil ? nil : try vector(name, count: count)
    }
}
