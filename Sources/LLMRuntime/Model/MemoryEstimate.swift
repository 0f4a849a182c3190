import Foundation
import GGUF

/// The memory a run needs: weights as they are held at run time, the KV cache, scratch, and the
/// tokenizer (with the vocabulary arrays of the parsed header).
public struct MemoryEstimate: Sendable, Codable, Equatable {
    public var weightBytes: Int
    public var kvCacheBytes: Int
    public var scratchBytes: Int
    public var tokenizerBytes: Int
    public var totalBytes: Int {
        weightBytes.clampedAdding(kvCacheBytes).clampedAdding(scratchBytes).clampedAdding(tokenizerBytes)
    }

    public init(weightBytes: Int, kvCacheBytes: Int, scratchBytes: Int, tokenizerBytes: Int = 0) {
        self.weightBytes = weightBytes
        self.kvCacheBytes = kvCacheBytes
        self.scratchBytes = scratchBytes
        self.tokenizerBytes = tokenizerBytes
    }

    /// Resident bytes of the vocabulary once loaded: its header arrays, our tables and, for
    /// SentencePiece, libsentencepiece's model. Measured as peak RSS of `llmrun tokenize` less
    /// an empty run: SmolLM2 (49,152 BPE tokens) 12 MB, Qwen2.5 (151,936 BPE) 40 MB, Gemma 3
    /// (262,144 SentencePiece) 124 MB. Gemma's is 105 MB since the built proto is freed before
    /// libsentencepiece parses it, but the rate stays: lowered to match, it let the budget
    /// planner give Gemma-3-270M at 400MB a Q4_1 embedding whose run with a 1,400-token prompt
    /// at -c 2048 peaked at 403 MB, since prompt batches hold more than `scratch` counts.
    public static func tokenizerBytes(_ file: GGUFFile) -> Int {
        let tokens = file["tokenizer.ggml.tokens"]?.arrayValue?.count ?? 0
        let sentencePiece = file["tokenizer.ggml.model"]?.stringValue == "llama"
        return tokens * (sentencePiece ? 480 : 260)
    }

    /// The matrices a load converts to their `WeightMatrix.kernelType`: those stored in a
    /// format without a kernel that is not decoded per tile either, and the embedding when it doubles as the output matrix (the
    /// embedding itself is only looked up, row by row, in whatever format it has).
    public static func convertedAtLoad(_ file: GGUFFile) -> [GGUFTensorInfo] {
        let tiedOutput = file.tensor(named: "output.weight") == nil
        return file.tensors.filter {
            $0.shape.count >= 2 && !WeightMatrix.residentTypes.contains($0.type) && ($0.name != "token_embd.weight" || tiedOutput)
        }
    }

    /// What one tensor holds at run time: a matrix in a kernel format its mapped bytes, a
    /// converted one its conversion (its pages released — except the embedding's, which lookups
    /// still read), a vector f32.
    public static func heldBytes(of t: GGUFTensorInfo, converted: Bool) -> Int {
        guard t.shape.count >= 2 else { return t.elementCount * 4 }
        guard converted else { return t.byteCount }
        return WeightMatrix.kernelByteCount(of: t) + (t.name == "token_embd.weight" ? t.byteCount : 0)
    }

    /// Bytes of one f16 KV cache for `context` positions (keys and values, 2 bytes each);
    /// `Int.max` when that overflows.
    public static func kvCacheBytes(config: ModelConfig, context: Int) -> Int {
        config.layers.reduce(0) { $0.clampedAdding(context.clampedMultiplying($1.kvHeadCount * config.headDim).clampedMultiplying(4)) }
    }

    /// Positions a context may hold: the attention kernels count them in 32 bits.
    public static let maxContext = Int(Int32.max)

    /// Throws unless `context` is a usable number of positions (1 to `maxContext`).
    public static func checkContext(_ context: Int) throws(ModelError) {
        guard context >= 1, context <= maxContext else {
            throw .invalidRequest("a context of \(context) positions is not possible: -c takes 1 to \(maxContext)")
        }
    }

    /// Throws unless the buffers of a run at `context` positions, its KV cache and scratch,
    /// can be allocated and fit in this machine's memory (`ProcessMemory.physicalBytes`): an
    /// allocation beyond it aborts the process, or is granted and then swaps without end.
    public static func checkRunBuffers(config: ModelConfig, context: Int, batch: Int, threads: Int, logitRows: Int) throws(ModelError) {
        try checkContext(context)
        let kv = kvCacheBytes(config: config, context: context)
        let scratch = RunState.byteCount(config: config, maxBatch: min(batch, context), contextLength: context,
                                         threads: threads, logitRows: logitRows)
        let physical = ProcessMemory.physicalBytes
        let needed = kv.clampedAdding(scratch)
        guard needed < Int.max, physical == 0 || needed <= physical else {
            throw .invalidRequest("a context of \(context) positions needs \(formatBytes(kv)) of KV cache and \(formatBytes(scratch)) of scratch, more than the \(formatBytes(physical)) of memory this machine has; lower -c (the model was trained on \(config.contextLength))")
        }
    }

    /// For a model file run at `context` positions: matrices in a kernel format are mapped
    /// as they are, the others are counted as their conversion (`convertedAtLoad`); vectors
    /// as f32. With `slots` sequences served at once (`serve --parallel`), each has its own
    /// cache of `context` positions and the batched step's scratch has a logit row for each.
    public init(file: GGUFFile, config: ModelConfig, context: Int, batch: Int = 256, threads: Int = 1, slots: Int = 1) {
        let converted = Set(MemoryEstimate.convertedAtLoad(file).map(\.name))
        let weights = file.tensors.reduce(0) { $0 + MemoryEstimate.heldBytes(of: $1, converted: converted.contains($1.name)) }
        let rows = max(slots, min(batch, context))
        self.init(weightBytes: weights,
                  kvCacheBytes: MemoryEstimate.kvCacheBytes(config: config, context: context).clampedMultiplying(slots),
                  scratchBytes: RunState.byteCount(config: config, maxBatch: rows, contextLength: context,
                                                   threads: threads, logitRows: slots),
                  tokenizerBytes: MemoryEstimate.tokenizerBytes(file))
    }
}

/// Formats byte counts for people: "98.4 MB" (`Int.max`, a size that overflowed: "over 9.2 EB").
public func formatBytes(_ bytes: Int) -> String {
    if bytes == Int.max { return "over 9.2 EB" }
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"]
    var v = Double(bytes)
    var i = 0
    while v >= 1000, i < units.count - 1 { v /= 1000; i += 1 }
    return i == 0 ? "\(bytes) B" : String(format: "%.1f %@", v, units[i])
}

extension Int {
    /// `self + other`, held at `Int.max` (or `Int.min`) instead of overflowing: sizes from a
    /// hostile header or a huge -c still compare correctly against a budget or the machine.
    public func clampedAdding(_ other: Int) -> Int {
        let (r, o) = addingReportingOverflow(other)
        return o ? (other > 0 ? Int.max : Int.min) : r
    }

    /// `self * other`, held at `Int.max` (or `Int.min`) instead of overflowing.
    public func clampedMultiplying(_ other: Int) -> Int {
        let (r, o) = multipliedReportingOverflow(by: other)
        return o ? ((self < 0) == (other < 0) ? Int.max : Int.min) : r
    }
}
