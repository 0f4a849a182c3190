/// One conversation or completion with a model: its KV cache, its activations, and the tokens
/// fed so far. `prefill` feeds a prompt in batches (mat-mat); `next` samples one token and feeds
/// it back (mat-vec). The CLI, the evaluators and the benchmark all drive this same loop.
public final class GenerationSession {
    public let model: LanguageModel
    public let contextLength: Int
    public let batchSize: Int
    /// Tokens whose keys and values are in the cache, in order.
    public private(set) var tokens: [Int32] = []
    public let cache: KVCache
    public let state: RunState
    /// Whether `state.logits` row 0 holds the logits after the last fed token.
    public private(set) var hasLogits = false

    public var remaining: Int { contextLength - tokens.count }

    /// Throws when the context's buffers cannot be allocated or exceed the machine's memory.
    public init(model: LanguageModel, contextLength: Int, batchSize: Int = 256, logitRows: Int = 1) throws(ModelError) {
        self.model = model
        self.contextLength = contextLength
        self.batchSize = max(1, min(batchSize, contextLength))
        try MemoryEstimate.checkRunBuffers(config: model.config, context: contextLength, batch: self.batchSize,
                                           threads: model.pool.threadCount, logitRows: logitRows)
        cache = try F16KVCache(layers: model.config.layers, headDim: model.config.headDim, capacity: contextLength)
        state = try RunState(config: model.config, maxBatch: self.batchSize, contextLength: contextLength,
                             threads: model.pool.threadCount, logitRows: logitRows)
    }

    /// Forgets everything fed so far.
    public func reset() {
        tokens.removeAll(keepingCapacity: true)
        hasLogits = false
    }

    /// Drops the cached tokens after the first `count` (they will be recomputed if fed again).
    public func truncate(to count: Int) {
        guard count < tokens.count else { return }
        tokens.removeLast(tokens.count - count)
        hasLogits = false
    }

    /// Keeps the longest cached prefix of `prompt`, at most all but its last token (whose
    /// logits the next sample needs), and drops the rest of the cache; returns how many tokens
    /// were kept. Feed `prompt[kept...]` next.
    @discardableResult
    public func keepCommonPrefix(with prompt: [Int32]) -> Int {
        var common = 0
        while common < min(tokens.count, prompt.count - 1) && tokens[common] == prompt[common] { common += 1 }
        truncate(to: common)
        return common
    }

    /// Records tokens whose keys and values a forward pass run elsewhere (a batch with other
    /// sessions) has just stored in `cache` at the next positions.
    public func didFeed(_ fed: some Collection<Int32>, logitsReady: Bool) {
        tokens.append(contentsOf: fed)
        hasLogits = logitsReady
    }

    /// Throws unless `count` more tokens fit in the context (`prefill` checks this itself; callers
    /// that print the prompt first ask before they do).
    public func checkRoom(for count: Int) throws(ModelError) {
        guard count <= remaining else {
            throw .invalidRequest("the prompt needs \(tokens.count + count) tokens but the context holds \(contextLength) (raise -c, or shorten the prompt)")
        }
    }

    /// Throws unless every token is in the vocabulary.
    public func checkTokens(_ newTokens: some Sequence<Int32>) throws(ModelError) {
        let vocab = model.config.vocabularySize
        if let bad = newTokens.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw .invalidRequest("token id \(bad) is outside the vocabulary (0..<\(vocab))")
        }
    }

    /// Feeds `newTokens` after those already in the cache, in batches, leaving the logits of the
    /// last one ready for sampling.
    public func prefill(_ newTokens: [Int32], progress: ((Int) -> Void)? = nil) throws(ModelError) {
        guard !newTokens.isEmpty else { return }
        try checkRoom(for: newTokens.count)
        try checkTokens(newTokens)
        var done = 0
        while done < newTokens.count {
            let n = min(batchSize, newTokens.count - done)
            feedChunk(newTokens[done..<(done + n)], logits: done + n == newTokens.count)
            done += n
            progress?(done)
        }
    }

    /// Feeds `newTokens` as `prefill` does, in the same batches, and hands `score` the logits
    /// after every fed position in `scored`, a few rows at a time: `score(positions, logits)`
    /// gets `positions.count` rows of `vocabularySize` values, where the row of position p
    /// predicts the token at p + 1. The evaluators' loop; no logits are left for sampling.
    public func prefill(_ newTokens: [Int32], scoring scored: Range<Int>,
                        _ score: (Range<Int>, UnsafeMutablePointer<Float>) throws(ModelError) -> Void) throws(ModelError) {
        guard !newTokens.isEmpty else { return }
        try checkRoom(for: newTokens.count)
        try checkTokens(newTokens)
        var done = 0
        while done < newTokens.count {
            let n = min(batchSize, newTokens.count - done), b0 = tokens.count
            feedChunk(newTokens[done..<(done + n)], logits: false)
            var r0 = max(b0, scored.lowerBound)
            let rEnd = min(b0 + n, scored.upperBound)
            while r0 < rEnd {
                let r1 = min(rEnd, r0 + state.logitRows)
                model.transformer.computeLogits(rows: (r0 - b0)..<(r1 - b0), state: state)
                try score(r0..<r1, state.logits)
                r0 = r1
            }
            done += n
        }
    }

    /// One forward pass over at most `batchSize` checked tokens; with `logits`, those of the
    /// chunk's last token are left ready for sampling.
    public func feedChunk(_ chunk: ArraySlice<Int32>, logits: Bool) {
        precondition(chunk.count <= batchSize && chunk.count <= remaining, "feedChunk: \(chunk.count) tokens")
        guard !chunk.isEmpty else { return }
        chunk.withUnsafeBufferPointer { batch in
            model.transformer.forward(batch, start: tokens.count, cache: cache, state: state,
                                      logits: logits ? .last : .none)
        }
        didFeed(chunk, logitsReady: logits)
    }

    /// Logits after the last fed token (`vocabularySize` values).
    public var logits: UnsafeMutablePointer<Float> { state.logits }

    /// Samples the next token from the current logits (after the processors), without feeding it.
    public func sample(using sampler: inout some Sampler, processors: [any LogitProcessor] = []) -> Int32 {
        precondition(hasLogits, "sample() before any token was fed")
        let vocab = model.config.vocabularySize
        for p in processors { p.process(state.logits, count: vocab, history: tokens[...]) }
        return sampler.sample(state.logits, count: vocab)
    }

    /// Feeds one token (decode step).
    public func feed(_ token: Int32) throws(ModelError) {
        try prefill([token])
    }
}
