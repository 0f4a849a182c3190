/// The activations of one forward pass, allocated once for up to `maxBatch` tokens (of one
/// sequence, or of several decoded together) and reused for every batch and every token. Sizes take the widest layer (pruned models vary).
public final class RunState {
    public let maxBatch: Int
    public let x: UnsafeMutablePointer<Float>       // (maxBatch, dim) residual stream
    public let xb: UnsafeMutablePointer<Float>      // (maxBatch, dim) normed input of a sub-layer
    public let xb2: UnsafeMutablePointer<Float>     // (maxBatch, dim) sub-layer output
    public let q: UnsafeMutablePointer<Float>       // (maxBatch, maxHeads*headDim)
    public let k: UnsafeMutablePointer<Float>       // (maxBatch, maxKVHeads*headDim)
    public let v: UnsafeMutablePointer<Float>       // (maxBatch, maxKVHeads*headDim)
    public let att: UnsafeMutablePointer<Float>     // (maxBatch, maxHeads*headDim) heads' output, input of wo
    public let hb: UnsafeMutablePointer<Float>      // (maxBatch, maxFF) gate, then silu(gate)*up: input of down
    public let hb2: UnsafeMutablePointer<Float>     // (maxBatch, maxFF) up
    public let ropeCos: UnsafeMutablePointer<Float> // (maxBatch, ropeDim/2)
    public let ropeSin: UnsafeMutablePointer<Float> // (maxBatch, ropeDim/2)
    // Sliding-window layers rotate with their own base; without such layers these alias the above.
    public let ropeCosWindow: UnsafeMutablePointer<Float> // (maxBatch, ropeDim/2)
    public let ropeSinWindow: UnsafeMutablePointer<Float> // (maxBatch, ropeDim/2)
    public let scores: UnsafeMutablePointer<Float>  // (threads, context) attention weights
    public let logits: UnsafeMutablePointer<Float>  // (logitRows, vocab)
    public let logitRows: Int
    public var xin: MatmulInput                     // the current mat-mul input (Q8_0 copy, or the f32 rows)
    public let contextLength: Int       // positions a sequence may reach (sizes `scores`)
    private var owned: [UnsafeMutableRawPointer] = []

    /// - Parameters:
    ///   - logitRows: how many positions of a batch can have logits at once (1 for generation,
    ///     the batch size for perplexity, the number of sequences for a batched decode step).
    public init(config: ModelConfig, maxBatch: Int, contextLength: Int, threads: Int, logitRows: Int = 1) throws(ModelError) {
        // Every buffer below is a term of this sum: when it is finite, no size overflows.
        guard RunState.byteCount(config: config, maxBatch: maxBatch, contextLength: contextLength, threads: threads,
                                 logitRows: logitRows) < Int.max else {
            throw .invalidRequest("the activations for batches of \(maxBatch) over \(contextLength) positions are too large to allocate")
        }
        self.maxBatch = maxBatch
        self.contextLength = contextLength
        self.logitRows = max(1, min(logitRows, maxBatch))
        let dim = config.hiddenSize
        let maxQ = (config.layers.map(\.headCount).max() ?? 0) * config.headDim
        let maxKV = (config.layers.map(\.kvHeadCount).max() ?? 0) * config.headDim
        let maxFF = config.layers.map(\.feedForwardLength).max() ?? 0
        let half = max(1, config.ropeDimensions / 2)
        var owned: [UnsafeMutableRawPointer] = []
        func alloc(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, n) * 4, alignment: 64)
            p.initializeMemory(as: Float.self, repeating: 0, count: max(1, n))
            owned.append(p)
            return p.assumingMemoryBound(to: Float.self)
        }
        x = alloc(maxBatch * dim)
        xb = alloc(maxBatch * dim)
        xb2 = alloc(maxBatch * dim)
        q = alloc(maxBatch * maxQ)
        k = alloc(maxBatch * maxKV)
        v = alloc(maxBatch * maxKV)
        att = alloc(maxBatch * maxQ)
        hb = alloc(maxBatch * maxFF)
        hb2 = alloc(maxBatch * maxFF)
        ropeCos = alloc(maxBatch * half)
        ropeSin = alloc(maxBatch * half)
        let windowed = config.slidingWindow > 0
        ropeCosWindow = windowed ? alloc(maxBatch * half) : ropeCos
        ropeSinWindow = windowed ? alloc(maxBatch * half) : ropeSin
        scores = alloc(threads * contextLength)
        logits = alloc(self.logitRows * config.vocabularySize)
        xin = MatmulInput(maxRows: maxBatch, maxColumns: max(dim, maxQ, maxFF))
        self.owned = owned
    }

    deinit { owned.forEach { $0.deallocate() } }

    /// Bytes held by the buffers (for memory estimates); `Int.max` when that overflows.
    public static func byteCount(config: ModelConfig, maxBatch: Int, contextLength: Int, threads: Int, logitRows: Int) -> Int {
        let dim = config.hiddenSize
        let maxQ = (config.layers.map(\.headCount).max() ?? 0) * config.headDim
        let maxKV = (config.layers.map(\.kvHeadCount).max() ?? 0) * config.headDim
        let maxFF = config.layers.map(\.feedForwardLength).max() ?? 0
        let ropeTables = config.slidingWindow > 0 ? 2 : 1
        // Config sizes are below 2^31 each (checked at load), so the row widths cannot overflow.
        let rowFloats = 3 * dim + 2 * maxQ + 2 * maxKV + 2 * maxFF + ropeTables * config.ropeDimensions
        let floats = maxBatch.clampedMultiplying(rowFloats)
            .clampedAdding(threads.clampedMultiplying(contextLength))
            .clampedAdding(logitRows.clampedMultiplying(config.vocabularySize))
        return floats.clampedMultiplying(4).clampedAdding(maxBatch.clampedMultiplying((max(dim, maxQ, maxFF) + 31) / 32 * 34))
    }
}
