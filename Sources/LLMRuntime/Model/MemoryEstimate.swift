import Foundation
import GGUF

/// The memory a run needs: weights as they are held at run time, the KV cache, scratch, and the
/// tokenizer (with the vocabulary arrays of the parsed header).
public struct MemoryEstimate: Sendable, Codable, Equatable {
    public var weightBytes: Int
    public var kvCacheBytes: Int
    public var scratchBytes: Int
    public var tokenizerBytes: Int
    public var totalBytes: Int { weightBytes + kvCacheBytes + scratchBytes + tokenizerBytes }

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
    /// format without a kernel, and the embedding when it doubles as the output matrix (the
    /// embedding itself is only looked up, row by row, in whatever format it has).
    public static func convertedAtLoad(_ file: GGUFFile) -> [GGUFTensorInfo] {
        let tiedOutput = file.tensor(named: "output.weight") == nil
        return file.tensors.filter {
            $0.shape.count >= 2 && !WeightMatrix.nativeTypes.contains($0.type) && ($0.name != "token_embd.weight" || tiedOutput)
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

    /// Bytes of one f16 KV cache for `context` positions.
    public static func kvCacheBytes(config: ModelConfig, context: Int) -> Int {
        config.layers.reduce(0) { $0 + 2 * context * $1.kvHeadCount * config.headDim * 2 }
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
                  kvCacheBytes: slots * MemoryEstimate.kvCacheBytes(config: config, context: context),
                  scratchBytes: RunState.byteCount(config: config, maxBatch: rows, contextLength: context,
                                                   threads: threads, logitRows: slots),
                  tokenizerBytes: MemoryEstimate.tokenizerBytes(file))
    }
}

/// Formats byte counts for people: "98.4 MB".
public func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(bytes)
    var i = 0
    while v >= 1000, i < units.count - 1 { v /= 1000; i += 1 }
    return i == 0 ? "\(bytes) B" : String(format: "%.1f %@", v, units[i])
}
