import GGUF
import LLMRuntime

/// A model's run-time footprint at one context length as a function of what a budget plan may
/// change: the share of parameters removed, the block matrices' format and the embedding's.
/// Everything else (norms, KV cache of the kept blocks, scratch, tokenizer, runtime) follows
/// `MemoryEstimate`, so a plan and `llmrun info` on the written file agree.
struct FootprintModel {
    let totalParameters: Int
    /// Values in block matrices: the part whose format the plan chooses and whose size pruning cuts.
    let blockMatrixParameters: Int
    /// The 4.5-bit block format a plan narrows to: IQ4_NL when most block values already run as
    /// IQ4_NL (IQ4_NL or IQ4_XS files), Q4_0 otherwise. SmolLM2 IQ4_XS at --budget 150MB -c 2048
    /// (16.2% removed either way): wiki perplexity 44.4 written IQ4_NL, 50.6 written Q4_0. From
    /// other sources IQ4_NL also fits better (SmolLM2 Q4_1 quantized with --fit: 19.8 against
    /// 20.7), but its prompts run at Q8_0's speed on AVX2 rather than Q4_0's, and a Q4 source
    /// chose the faster format.
    let narrowestBlockFormat: GGMLType
    /// The dense model as it is, plus the runtime allowance.
    let denseFootprint: Int

    private let file: GGUFFile
    private let settings: PruneSettings
    private let blockParameters: [Int]
    private let dense: MemoryEstimate
    private let runtimeBytes: Int
    /// Dense weights less the block matrices (as held at run time).
    private let weightsBesideBlocks: Int
    /// The embedding and a separate output matrix.
    private let embeddingTensors: [GGUFTensorInfo]
    /// Their bytes at run time as they are: mapped, plus a kernel-format copy where one doubles
    /// as the output matrix in a format without a kernel.
    private let embeddingNow: Int

    /// `slots`: sequences served at once, each with its own cache (`serve --parallel`); `batch`:
    /// rows of a forward step.
    /// `runtimeBytes`: the process beside the model's buffers (`BudgetPlanner.runtimeOverhead`,
    /// or a server's `ServingFootprint.runtimeBytes`).
    init(file: GGUFFile, config: ModelConfig, context: Int, settings: PruneSettings, slots: Int = 1, batch: Int = 256,
         threads: Int = 1, runtimeBytes: Int = BudgetPlanner.runtimeOverhead) {
        self.file = file
        self.settings = settings
        totalParameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        // Block vectors (norms, biases) stay f32 and count with the fixed part.
        let blockMatrices = file.tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count >= 2 }
        blockMatrixParameters = blockMatrices.reduce(0) { $0 + $1.elementCount }
        let iq4 = blockMatrices.filter { WeightMatrix.kernelType(for: $0.type) == .iq4_nl }.reduce(0) { $0 + $1.elementCount }
        narrowestBlockFormat = 2 * iq4 > blockMatrixParameters ? .iq4_nl : .q4_0
        self.runtimeBytes = runtimeBytes
        dense = MemoryEstimate(file: file, config: config, context: context, batch: batch, threads: threads, slots: slots)
        denseFootprint = dense.totalBytes.clampedAdding(runtimeBytes)
        weightsBesideBlocks = dense.weightBytes - blockMatrices.reduce(0) { $0 + WeightMatrix.kernelByteCount(of: $1) }
        let counter = ParameterCount(config: config)
        blockParameters = config.layers.map { counter.layer($0) }
        embeddingTensors = ["token_embd.weight", "output.weight"].compactMap { file.tensor(named: $0) }.filter { $0.shape.count >= 2 }
        let converted = Set(MemoryEstimate.convertedAtLoad(file).map(\.name))
        embeddingNow = embeddingTensors.reduce(0) { $0 + MemoryEstimate.heldBytes(of: $1, converted: converted.contains($1.name)) }
    }

    /// Run-time bytes per block-matrix value written as `t`: a kernel format's own block size
    /// (read from the format, so a new kernel format is planned at its size), else Q8_0's, the
    /// format the load converts it to.
    static func bytesPerParameter(_ t: GGMLType) -> Double {
        if WeightMatrix.residentTypes.contains(t), let block = t.byteCount(forElements: t.blockSize) {
            return Double(block) / Double(t.blockSize)
        }
        if t == .f16 { return 34.0 / 32 + 2 }  // converted to Q8_0 at load, file kept mapped
        return 34.0 / 32
    }

    /// Whole blocks a run at `ratio` drops (they take their KV cache with them).
    func dropped(_ ratio: Double) -> Int {
        settings.blocksToDrop(ratio: ratio, totalParameters: totalParameters, layerParameters: blockParameters)
    }

    /// The embedding's run-time bytes written as `e` (nil: as it is).
    func embeddingBytes(_ e: GGMLType?) -> Int {
        guard let e else { return embeddingNow }
        let tied = file.tensor(named: "output.weight") == nil
        return embeddingTensors.reduce(0) {
            let stored = e == $1.type ? $1.byteCount : e.byteCount(forElements: $1.elementCount) ?? $1.byteCount
            // A format without a kernel is converted for the output matrix (f16 → Q8_0).
            let asOutput = tied || $1.name == "output.weight"
            return $0 + stored + (asOutput && !WeightMatrix.residentTypes.contains(e) ? $1.elementCount * 34 / 32 : 0)
        }
    }

    /// All but the block matrices: embedding, norms, the kept blocks' KV cache, scratch,
    /// tokenizer and runtime.
    func fixed(ratio: Double, embedding e: GGMLType?) -> Int {
        let blocks = max(blockParameters.count, 1)
        // The KV cache and scratch grow with -c without bound: summed clamped, a huge -c gives
        // a huge footprint (the budget is infeasible), never a wrapped-around small one.
        let keptCache = Int(min(Double(dense.kvCacheBytes) * Double(blocks - dropped(ratio)) / Double(blocks), 9e18))
        return (weightsBesideBlocks - embeddingNow + embeddingBytes(e)).clampedAdding(keptCache)
            .clampedAdding(dense.scratchBytes).clampedAdding(dense.tokenizerBytes).clampedAdding(runtimeBytes)
    }

    /// The footprint with `ratio` of all parameters removed, blocks written as `blocks` and the
    /// embedding as `embedding`.
    func footprint(ratio: Double, blocks t: GGMLType, embedding e: GGMLType?) -> Int {
        fixed(ratio: ratio, embedding: e).clampedAdding(Int((Double(blockMatrixParameters) - ratio * Double(totalParameters)) * FootprintModel.bytesPerParameter(t)))
    }
}
