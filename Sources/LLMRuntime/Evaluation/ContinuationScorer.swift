/// Log-probabilities of continuations given a context, reusing the cached context between calls
/// (the choices of a multiple-choice question share it).
public final class ContinuationScorer {
    public let model: LanguageModel
    public let contextLength: Int
    private let cache: F16KVCache
    private let state: RunState
    private var cached: [Int32] = []
    private let batchSize: Int

    public init(model: LanguageModel, contextLength: Int = 1024, batchSize: Int = 128) throws(ModelError) {
        self.model = model
        self.contextLength = contextLength
        self.batchSize = batchSize
        try MemoryEstimate.checkRunBuffers(config: model.config, context: contextLength, batch: batchSize,
                                           threads: model.pool.threadCount, logitRows: 32)
        cache = try F16KVCache(layers: model.config.layers, headDim: model.config.headDim, capacity: contextLength)
        state = try RunState(config: model.config, maxBatch: batchSize, contextLength: contextLength,
                         threads: model.pool.threadCount, logitRows: 32)
    }

    /// Σ log P(continuation[i] | context, continuation[..<i]). Long inputs keep their end.
    public func logProbability(context: [Int32], continuation: [Int32]) throws(ModelError) -> Double {
        guard !context.isEmpty, !continuation.isEmpty else {
            throw .invalidRequest("scoring needs a non-empty context and continuation")
        }
        var ctx = context
        let overflow = ctx.count + continuation.count - contextLength
        if overflow > 0 {
            guard overflow < ctx.count else { throw .invalidRequest("a continuation of \(continuation.count) tokens does not fit the context of \(contextLength)") }
            ctx.removeFirst(overflow)
        }
        let full = ctx + continuation
        // Reuse the common prefix, but always recompute the context's last token: its logits
        // predict the first continuation token.
        var keep = 0
        while keep < min(cached.count, ctx.count - 1) && cached[keep] == full[keep] { keep += 1 }
        cached.removeLast(cached.count - keep)

        let vocab = model.config.vocabularySize
        var total = 0.0
        let firstScored = ctx.count - 1, lastScored = full.count - 2
        try full.withUnsafeBufferPointer { (all) throws(ModelError) in
            var b0 = keep
            while b0 < full.count {
                let b1 = min(full.count, b0 + batchSize)
                model.transformer.forward(UnsafeBufferPointer(rebasing: all[b0..<b1]), start: b0, cache: cache, state: state, logits: .none)
                var r0 = max(b0, firstScored)
                let rEnd = min(b1 - 1, lastScored)
                while r0 <= rEnd {
                    let r1 = min(rEnd + 1, r0 + state.logitRows)
                    model.transformer.computeLogits(rows: (r0 - b0)..<(r1 - b0), state: state)
                    for p in r0..<r1 {
                        total += logSoftmax(state.logits + (p - r0) * vocab, count: vocab, at: Int(all[p + 1]))
                    }
                    r0 = r1
                }
                b0 = b1
            }
        }
        cached = full
        return total
    }
}
