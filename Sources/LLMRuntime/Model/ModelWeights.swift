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
        let embd = try TensorBinder(file: file).required(config.embeddingTensor)
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
    /// Binds block `i` of a file through its declarative list (`ModelConfig.layerTensors`),
    /// checking every tensor's presence, shape and type.
    public init(file: GGUFFile, config: ModelConfig, layer i: Int) throws(ModelError) {
        let binder = TensorBinder(file: file)
        let wanted = config.layerTensors(i)
        func matrix(_ suffix: String) throws(ModelError) -> WeightMatrix? {
            guard let r = wanted[suffix], let t = try binder.check(r) else { return nil }
            return try WeightMatrix(tensor: t, in: file)
        }
        func vector(_ suffix: String) throws(ModelError) -> [Float]? {
            guard let r = wanted[suffix], let t = try binder.check(r) else { return nil }
            return TensorConversion.floats(of: t, in: file)
        }
        self.init(
            attentionNorm: try vector("attn_norm.weight") ?? [],
            wq: try matrix("attn_q.weight"), wk: try matrix("attn_k.weight"),
            wv: try matrix("attn_v.weight"), wo: try matrix("attn_output.weight"),
            bq: try vector("attn_q.bias"), bk: try vector("attn_k.bias"), bv: try vector("attn_v.bias"),
            ffnNorm: try vector("ffn_norm.weight") ?? [],
            gate: try matrix("ffn_gate.weight"), up: try matrix("ffn_up.weight"), down: try matrix("ffn_down.weight"),
            downBias: try vector("ffn_down.bias"),
            woBias: try vector("attn_output.bias"),
            qNorm: try vector("attn_q_norm.weight"), kNorm: try vector("attn_k_norm.weight"),
            attentionPostNorm: try vector("post_attention_norm.weight"),
            ffnPostNorm: try vector("post_ffw_norm.weight"))
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
        outputNorm = try binder.vector(config.outputNormTensor)
        // An absent output matrix means it is tied to the embedding.
        output = try binder.matrix(config.outputTensor(file: file))
        self.file = file
    }

    /// Checks, without binding anything, every tensor a load binds: present where required,
    /// shaped as the config says, in a type this build runs. `llmrun info` runs it on the
    /// header alone; a load runs the same checks as it binds.
    public static func validate(file: GGUFFile, config: ModelConfig) throws(ModelError) {
        let binder = TensorBinder(file: file)
        _ = try binder.check(config.embeddingTensor)
        for i in config.layers.indices {
            for r in config.layerTensors(i).values.sorted(by: { $0.name < $1.name }) { _ = try binder.check(r) }
        }
        _ = try binder.check(config.outputNormTensor)
        _ = try binder.check(config.outputTensor(file: file))
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
        outputNorm = try binder.vector(config.outputNormTensor)
        if let (embedding, output) = try transform.transformedEmbedding(file: file, config: config) {
            tokenEmbedding = embedding
            self.output = output
        } else {
            tokenEmbedding = try EmbeddingTable(file: file, config: config)
            // An absent output matrix means it is tied to the embedding.
            output = try binder.matrix(config.outputTensor(file: file))
        }
        self.file = file
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
        // A tied output viewing the file's embedding in a kernel format: once packed, lookups
        // unpack its rows (the same bytes) instead of faulting the file's pages back in, which
        // held the embedding twice (SmolLM2 serving 100 clients: 14 MB of file pages).
        let tiedView = tokenEmbedding.matrix == nil && output.owner == nil && output.data == tokenEmbedding.data
            && output.type == tokenEmbedding.type && output.rows == tokenEmbedding.vocabularySize
        var out: WeightMatrix? = output
        // An empty view in its place while it is packed, so `out` holds the only reference.
        output = WeightMatrix(type: output.type, rows: 0, columns: output.columns, data: output.data, owner: nil)
        convert(&out)
        output = out!
        if shared || (tiedView && output.owner != nil) {
            tokenEmbedding = EmbeddingTable(matrix: output, scale: tokenEmbedding.scale)
        }
        releaseUnviewedPages()
    }

    /// Drops the file pages of every tensor no view reads any more: the vectors copied to f32 and
    /// the matrices now held in memory. Reading a small vector faults in its neighbours' pages
    /// too (the kernel maps 64 KB around a fault), which stayed resident beside the copies
    /// (SmolLM2: 5.5 MB in pages spread over the weights).
    mutating func releaseUnviewedPages() {
        guard let base = file.tensors.first.map({ file.data(for: $0).baseAddress! }) else { return }
        var viewed: [Range<Int>] = []
        func view(_ m: WeightMatrix?) {
            guard let m, m.owner == nil, m.rows > 0 else { return }
            let start = m.data - base
            viewed.append(start..<(start + m.rows * m.rowBytes))
        }
        for l in layers { view(l.wq); view(l.wk); view(l.wv); view(l.wo); view(l.gate); view(l.up); view(l.down) }
        view(output)
        if tokenEmbedding.matrix == nil {
            let start = tokenEmbedding.data - base
            viewed.append(start..<(start + tokenEmbedding.vocabularySize * tokenEmbedding.rowBytes))
        }
        for t in file.tensors {
            let start = file.data(for: t).baseAddress! - base
            let range = start..<(start + t.byteCount)
            if !viewed.contains(where: { $0.overlaps(range) }) { file.releasePages(of: t) }
        }
    }
}

/// A tensor the forward pass reads: its ggml shape (columns first), what it is read as, and
/// whether it may be absent.
struct TensorRequirement {
    enum Role { case matrix, vector, embedding }
    let name: String
    let shape: [Int]
    let role: Role
    let required: Bool
}

extension ModelConfig {
    /// The declarative binding list of block `i`, keyed by the name after "blk.i.": what
    /// `LayerWeights` binds and `ModelWeights.validate` checks. Attention or MLP tensors are
    /// absent from a block pruned to 0 heads or 0 channels. The q/k and post-norms are
    /// required where the config says the model has them (as llama.cpp), read if present elsewhere.
    func layerTensors(_ i: Int) -> [String: TensorRequirement] {
        let dim = hiddenSize, hd = headDim, shape = layers[i]
        let qDim = shape.headCount * hd, kvDim = shape.kvHeadCount * hd, ff = shape.feedForwardLength
        var out: [String: TensorRequirement] = [:]
        func add(_ suffix: String, _ shape: [Int], _ role: TensorRequirement.Role, required: Bool = true) {
            out[suffix] = TensorRequirement(name: "blk.\(i).\(suffix)", shape: shape, role: role, required: required)
        }
        add("attn_norm.weight", [dim], .vector)                        // (dim)
        add("ffn_norm.weight", [dim], .vector)                         // (dim)
        add("post_attention_norm.weight", [dim], .vector, required: hasPostNorms)
        add("post_ffw_norm.weight", [dim], .vector, required: hasPostNorms)
        if shape.headCount > 0 {
            add("attn_q.weight", [dim, qDim], .matrix)                 // (qDim, dim)
            add("attn_k.weight", [dim, kvDim], .matrix)                // (kvDim, dim)
            add("attn_v.weight", [dim, kvDim], .matrix)                // (kvDim, dim)
            add("attn_output.weight", [qDim, dim], .matrix)            // (dim, qDim)
            add("attn_q.bias", [qDim], .vector, required: false)
            add("attn_k.bias", [kvDim], .vector, required: false)
            add("attn_v.bias", [kvDim], .vector, required: false)
            add("attn_output.bias", [dim], .vector, required: false)
            add("attn_q_norm.weight", [hd], .vector, required: hasPostNorms)
            add("attn_k_norm.weight", [hd], .vector, required: hasPostNorms)
        }
        if ff > 0 {
            add("ffn_gate.weight", [dim, ff], .matrix)                 // (ff, dim)
            add("ffn_up.weight", [dim, ff], .matrix)                   // (ff, dim)
            add("ffn_down.weight", [ff, dim], .matrix)                 // (dim, ff)
            add("ffn_down.bias", [dim], .vector, required: false)
        }
        return out
    }

    /// (vocab, dim), looked up row by row.
    var embeddingTensor: TensorRequirement {
        TensorRequirement(name: "token_embd.weight", shape: [hiddenSize, vocabularySize], role: .embedding, required: true)
    }
    /// (dim)
    var outputNormTensor: TensorRequirement {
        TensorRequirement(name: "output_norm.weight", shape: [hiddenSize], role: .vector, required: true)
    }
    /// (vocab, dim): `output.weight`, or the embedding when it is absent (tied).
    func outputTensor(file: GGUFFile) -> TensorRequirement {
        let name = file.tensor(named: "output.weight") != nil ? "output.weight" : "token_embd.weight"
        return TensorRequirement(name: name, shape: [hiddenSize, vocabularySize], role: .matrix, required: true)
    }
}

/// Looks tensors up by name and checks their shapes and types, naming the tensor when they differ.
struct TensorBinder {
    let file: GGUFFile

    /// The tensor `r` names, checked; nil when it is optional and absent.
    func check(_ r: TensorRequirement) throws(ModelError) -> GGUFTensorInfo? {
        guard let t = file.tensor(named: r.name) else {
            if r.required { throw .badModel(path: file.path, detail: "tensor '\(r.name)' is missing") }
            return nil
        }
        // Trailing 1s are insignificant in ggml shapes.
        var found = t.shape
        while found.count > r.shape.count, found.last == 1 { found.removeLast() }
        guard found == r.shape else {
            throw .badModel(path: file.path, detail: "\(r.name): expected \(r.shape.map(String.init).joined(separator: " x ")), found \(t.shapeDescription)")
        }
        switch r.role {
        case .matrix:
            try WeightMatrix.checkSupported(t, in: file)
        case .vector, .embedding:
            guard TensorConversion.canDequantize(t.type) else {
                throw .unsupported(path: file.path, detail: "\(r.name): tensor type \(t.type) is not supported by this build")
            }
        }
        return t
    }

    /// A required matrix, bound (converted to its kernel format if it has none).
    func matrix(_ r: TensorRequirement) throws(ModelError) -> WeightMatrix {
        try WeightMatrix(tensor: try required(r), in: file)
    }

    /// A required vector, as f32.
    func vector(_ r: TensorRequirement) throws(ModelError) -> [Float] {
        TensorConversion.floats(of: try required(r), in: file)
    }

    /// A required (rows, columns) matrix by name.
    func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
        try matrix(TensorRequirement(name: name, shape: [columns, rows], role: .matrix, required: true))
    }

    /// A required vector by name.
    func vector(_ name: String, count: Int) throws(ModelError) -> [Float] {
        try vector(TensorRequirement(name: name, shape: [count], role: .vector, required: true))
    }

    /// The same for a tensor that `r` requires.
    func required(_ r: TensorRequirement) throws(ModelError) -> GGUFTensorInfo {
        guard let t = try check(TensorRequirement(name: r.name, shape: r.shape, role: r.role, required: true)) else {
            throw .badModel(path: file.path, detail: "tensor '\(r.name)' is missing")
        }
        return t
    }
}
