import GGUF
import LLMRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Writes the pruned model as a standard GGUF. Layer tensors are produced one block at a time
/// and spilled to an unnamed temporary file beside the output (their shapes are only known once
/// every block is pruned, and the header, which lists them, comes first); the final file is then
/// streamed out by `GGUFWriter` (hidden until complete, then renamed into place).
final class PrunedModelWriter {
    private let source: GGUFFile
    private let outputPath: String
    private let outputType: GGMLType?
    /// The format of the embedding and a separate output matrix (nil: copied as they are).
    private let embeddingType: GGMLType?
    private var spillFD: Int32 = -1
    private var spillSize = 0
    private var layerTensors: [(descriptor: GGUFTensorDescriptor, offset: Int)] = []

    init(source: GGUFFile, outputPath: String, outputType: GGMLType?, embeddingType: GGMLType? = nil) throws {
        self.source = source
        self.outputPath = outputPath
        self.outputType = outputType
        self.embeddingType = embeddingType
        let dir = outputPath.contains("/") ? String(outputPath[..<outputPath.lastIndex(of: "/")!]) : "."
        // O_TMPFILE: the spill has no name, so nothing is left behind whatever happens.
        spillFD = open(dir.isEmpty ? "/" : dir, 0o20000000 | O_DIRECTORY | O_RDWR | O_CLOEXEC, 0o600)
        if spillFD < 0 {
            var template = Array("\(dir)/.llmrun-spill-XXXXXX".utf8CString)
            spillFD = mkstemp(&template)
            if spillFD >= 0 { template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
        }
        guard spillFD >= 0 else {
            throw GGUFError.cannotCreate(path: outputPath, reason: "cannot create a temporary file in '\(dir)': \(String(cString: strerror(errno)))")
        }
    }

    deinit { if spillFD >= 0 { close(spillFD) } }

    /// The format a matrix is written in.
    private func targetType(for m: WeightMatrix) -> GGMLType {
        guard let t = outputType else { return m.type }
        return t
    }

    /// Appends block `index` of the output, as produced. Matrices requantized to another format
    /// are fitted to their inputs' energies where known. When the output keeps the source's
    /// formats, the matrices `rowSelections` names (see `PrunePlan.Layer.rowSelections`) are
    /// copied as rows of source block `sourceLayer`'s tensors, in their file format: a Q4_K or
    /// Q6_K matrix stays one, where the loaded matrix llmrun runs is Q4_1 or Q8_0.
    func append(layer w: LayerWeights, index: Int, inputEnergy e: BlockInputEnergy = BlockInputEnergy(),
                sourceLayer: Int? = nil, rowSelections: [String: [Int]?] = [:]) throws {
        let p = "blk.\(index)."
        func matrix(_ suffix: String, _ m: WeightMatrix, importance: [Float]?) throws {
            let origin = sourceLayer.flatMap { l in rowSelections[suffix].map { (tensor: "blk.\(l).\(suffix)", rows: $0) } }
            try appendMatrix(p + suffix, m, importance: importance, origin: origin)
        }
        try appendVector(p + "attn_norm.weight", w.attentionNorm)
        if let m = w.wq { try matrix("attn_q.weight", m, importance: e.attention) }
        if let m = w.wk { try matrix("attn_k.weight", m, importance: e.attention) }
        if let m = w.wv { try matrix("attn_v.weight", m, importance: e.attention) }
        if let b = w.bq { try appendVector(p + "attn_q.bias", b) }
        if let b = w.bk { try appendVector(p + "attn_k.bias", b) }
        if let b = w.bv { try appendVector(p + "attn_v.bias", b) }
        if let m = w.wo { try matrix("attn_output.weight", m, importance: e.heads) }
        if let b = w.woBias { try appendVector(p + "attn_output.bias", b) }
        if let v = w.qNorm { try appendVector(p + "attn_q_norm.weight", v) }
        if let v = w.kNorm { try appendVector(p + "attn_k_norm.weight", v) }
        if let v = w.attentionPostNorm { try appendVector(p + "post_attention_norm.weight", v) }
        try appendVector(p + "ffn_norm.weight", w.ffnNorm)
        if let m = w.gate { try matrix("ffn_gate.weight", m, importance: e.feedForward) }
        if let m = w.up { try matrix("ffn_up.weight", m, importance: e.feedForward) }
        if let m = w.down { try matrix("ffn_down.weight", m, importance: e.hidden) }
        if let b = w.downBias { try appendVector(p + "ffn_down.bias", b) }
        if let v = w.ffnPostNorm { try appendVector(p + "post_ffw_norm.weight", v) }
    }

    private func appendVector(_ name: String, _ v: [Float]) throws {
        let bytes = v.withUnsafeBytes { Array($0) }
        try spill(GGUFTensorDescriptor(name: name, shape: [v.count], type: .f32), bytes: bytes)
    }

    /// `origin`: the source tensor `m` was cut from by rows alone (nil rows: all of them).
    private func appendMatrix(_ name: String, _ m: WeightMatrix, importance: [Float]?,
                              origin: (tensor: String, rows: [Int]?)?) throws {
        if outputType == nil, let origin, let bytes = sourceRows(origin.tensor, origin.rows, as: name, m) {
            return try spill(bytes.descriptor, bytes: bytes.data)
        }
        let type = targetType(for: m)
        let descriptor = GGUFTensorDescriptor(name: name, shape: [m.columns, m.rows], type: type)
        if type == m.type {
            try spill(descriptor, bytes: m.bytes)
            return
        }
        var out: [UInt8] = []
        out.reserveCapacity(type.byteCount(forElements: m.rows * m.columns) ?? 0)
        var row = [Float](repeating: 0, count: m.columns)
        let weights = importance.flatMap { $0.count == m.columns ? $0 : nil } ?? []
        for r in 0..<m.rows {
            row.withUnsafeMutableBufferPointer { m.dequantizeRow(r, into: $0.baseAddress!) }
            guard let q = row.withUnsafeBufferPointer({ v in
                weights.withUnsafeBufferPointer { w in
                    TensorConversion.quantizeFitted(v.baseAddress!, count: m.columns, to: type, weights: w.isEmpty ? nil : w.baseAddress)
                }
            }) else {
                throw PruneError.badPlan("cannot write tensors as \(type)")
            }
            out += q
        }
        try spill(descriptor, bytes: out)
    }

    /// Rows `selection` (nil: all) of source tensor `tensor`, in its file format, as tensor `name`;
    /// nil unless they have `m`'s shape.
    private func sourceRows(_ tensor: String, _ selection: [Int]?, as name: String,
                            _ m: WeightMatrix) -> (descriptor: GGUFTensorDescriptor, data: [UInt8])? {
        guard let t = source.tensor(named: tensor), t.shape.count == 2, t.shape[0] == m.columns,
              let rowBytes = t.type.byteCount(forElements: t.shape[0]) else { return nil }
        let rows = selection ?? Array(0..<t.shape[1])
        guard rows.count == m.rows, rows.allSatisfy({ $0 >= 0 && $0 < t.shape[1] }) else { return nil }
        let data = source.data(for: t)
        var out = [UInt8](repeating: 0, count: rows.count * rowBytes)
        out.withUnsafeMutableBytes { o in
            for (i, r) in rows.enumerated() {
                o.baseAddress!.advanced(by: i * rowBytes).copyMemory(from: data.baseAddress! + r * rowBytes, byteCount: rowBytes)
            }
        }
        return (GGUFTensorDescriptor(name: name, shape: [m.columns, rows.count], type: t.type), out)
    }

    private func spill(_ d: GGUFTensorDescriptor, bytes: [UInt8]) throws {
        try spillBytes(bytes)
        layerTensors.append((d, spillSize - bytes.count))
    }

    /// Appends bytes at the end of the spill file.
    private func spillBytes(_ bytes: [UInt8]) throws {
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = pwrite(spillFD, raw.baseAddress! + done, raw.count - done, off_t(spillSize + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw GGUFError.cannotCreate(path: outputPath, reason: "writing the temporary file: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
        spillSize += bytes.count
    }

    /// Requantizes a source matrix (the embedding) into the spill file a slice of rows at a
    /// time, releasing the source's pages as it goes: Gemma 3's embedding is 168M values, and
    /// neither it nor its new form is ever resident whole. Returns its spill offset.
    private func spillRequantized(_ t: GGUFTensorInfo, as type: GGMLType, weights: [Float]?) throws -> Int {
        let columns = t.shape[0], rows = t.elementCount / max(columns, 1)
        guard let sourceRow = t.type.byteCount(forElements: columns), TensorConversion.canDequantize(t.type) else {
            throw PruneError.badPlan("cannot read '\(t.name)' (\(t.type)) to write it as \(type)")
        }
        let start = spillSize
        let data = source.data(for: t)
        let weights = weights.flatMap { $0.count == columns ? $0 : nil } ?? []
        var row = [Float](repeating: 0, count: columns)
        let slice = 1024
        var r0 = 0
        while r0 < rows {
            let n = min(slice, rows - r0)
            var out: [UInt8] = []
            out.reserveCapacity(type.byteCount(forElements: n * columns) ?? 0)
            for r in r0..<(r0 + n) {
                guard let q = row.withUnsafeMutableBufferPointer({ buf -> [UInt8]? in
                    TensorConversion.dequantize(type: t.type, source: data.baseAddress! + r * sourceRow, count: columns, into: buf.baseAddress!)
                    return weights.withUnsafeBufferPointer { w in
                        TensorConversion.quantizeFitted(buf.baseAddress!, count: columns, to: type,
                                                        weights: w.isEmpty ? nil : w.baseAddress)
                    }
                }) else { throw PruneError.badPlan("cannot write tensors as \(type)") }
                out += q
            }
            try spillBytes(out)
            source.releasePages(of: t, range: (r0 * sourceRow)..<((r0 + n) * sourceRow))
            r0 += n
        }
        return start
    }

    /// Writes the final file: source metadata with the new shapes, the embedding, the pruned
    /// blocks, the output norm and classifier.
    /// `outputEnergy`: the mean square of each input of the output matrix (the final normalized
    /// hidden state) over the calibration tokens, to fit the output matrix (or the tied
    /// embedding, which is both) when it is requantized.
    func finish(config: ModelConfig, extraMetadata: [(key: String, value: GGUFValue)], outputEnergy: [Float]? = nil) throws {
        // llama.cpp's `llama` architecture builds every layer with layer 0's widths; its `deci`
        // architecture (same tensors, same RoPE) honours per-layer head counts and widths.
        let uniform = Set(config.layers).count <= 1
        let sourceArch = config.architecture
        let arch = !uniform && sourceArch == "llama" ? "deci" : sourceArch
        let replaced: Set<String> = Set(["block_count", "feed_forward_length", "attention.head_count",
                                         "attention.head_count_kv", "attention.key_length",
                                         "attention.value_length", "rope.dimension_count",
                                         "attention.sliding_window_pattern"].map { "\(sourceArch).\($0)" })
            .union(["general.file_type"])
        var metadata: [(key: String, value: GGUFValue)] = []
        for (key, value) in source.metadata where !replaced.contains(key) && !key.hasPrefix("llmrun.") {
            if key == "general.architecture" {
                metadata.append((key, .string(arch)))
            } else if key.hasPrefix(sourceArch + ".") {
                metadata.append((arch + key.dropFirst(sourceArch.count), value))
            } else {
                metadata.append((key, value))
            }
        }
        func perLayer(_ f: (LayerShape) -> Int) -> GGUFValue { .array(.int32, config.layers.map { .int32(Int32(f($0))) }) }
        // Explicit head sizes: with per-layer head counts, llama.cpp cannot derive them from
        // embedding_length / head_count.
        metadata += [
            ("\(arch).block_count", .uint32(UInt32(config.blockCount))),
            ("\(arch).feed_forward_length", perLayer(\.feedForwardLength)),
            ("\(arch).attention.head_count", perLayer(\.headCount)),
            ("\(arch).attention.head_count_kv", perLayer(\.kvHeadCount)),
            ("\(arch).attention.key_length", .uint32(UInt32(config.headDim))),
            ("\(arch).attention.value_length", .uint32(UInt32(config.headDim))),
            ("\(arch).rope.dimension_count", .uint32(UInt32(config.ropeDimensions))),
        ]
        if config.slidingWindow > 0 {
            // Which layers are windowed, per kept layer: dropping blocks breaks the source's period.
            metadata.append(("\(arch).attention.sliding_window_pattern",
                             .array(.bool, config.layers.indices.map { .bool(config.isSlidingWindow($0)) })))
        }
        if let t = outputType, let fileType = t.llamaFileType { metadata.append(("general.file_type", .uint32(fileType))) }
        metadata += extraMetadata

        let head = ["token_embd.weight"].compactMap { source.tensor(named: $0) }
        let tail = ["output_norm.weight", "output.weight"].compactMap { source.tensor(named: $0) }
        // The embedding and output matrices in a new format go through the spill file too.
        var requantized: [String: (descriptor: GGUFTensorDescriptor, offset: Int)] = [:]
        if let e = embeddingType {
            for t in head + tail where t.shape.count >= 2 && t.type != e {
                let d = GGUFTensorDescriptor(name: t.name, shape: t.shape, type: e)
                let outputRole = t.name == "output.weight" || source.tensor(named: "output.weight") == nil
                requantized[t.name] = (d, try spillRequantized(t, as: e, weights: outputRole ? outputEnergy : nil))
            }
        }
        func descriptor(_ t: GGUFTensorInfo) -> GGUFTensorDescriptor {
            requantized[t.name]?.descriptor ?? GGUFTensorDescriptor(name: t.name, shape: t.shape, type: t.type)
        }
        let descriptors = head.map(descriptor) + layerTensors.map(\.descriptor) + tail.map(descriptor)
        let writer = try GGUFWriter(path: outputPath, metadata: metadata, tensors: descriptors)
        do {
            let spill = spillSize > 0 ? try MappedFile(path: "/proc/self/fd/\(spillFD)") : nil
            func fromSpill(_ d: GGUFTensorDescriptor, _ offset: Int) throws {
                guard let spill else { return }
                let n = d.byteCount!
                try writer.writeTensor(named: d.name, bytes: UnsafeRawBufferPointer(rebasing: spill.bytes[offset..<(offset + n)]))
                spill.release(offset: offset, count: n)
            }
            // Copied tensors leave the mapping as they are written: the embedding alone is a
            // fifth of a small model, and the process's peak would count all of its pages.
            func copy(_ t: GGUFTensorInfo) throws {
                if let (d, offset) = requantized[t.name] { return try fromSpill(d, offset) }
                try writer.writeTensor(named: t.name, bytes: source.data(for: t)) { self.source.releasePages(of: t, range: $0) }
                source.releasePages(of: t)
            }
            for t in head { try copy(t) }
            for (d, offset) in layerTensors { try fromSpill(d, offset) }
            for t in tail { try copy(t) }
            try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// llama.cpp's `general.file_type` for a uniform output format.
}
