/// Log-probabilities of continuations given a context, reusing the cached context between calls
/// (the choices of a multiple-choice question share it).
public final class ContinuationScorer {
    public let model: LanguageModel
    public let contextLength: Int
    private let session: GenerationSession

    public init(model: LanguageModel, contextLength: Int = 1024, batchSize: Int = 128) throws(ModelError) {
        self.model = model
        self.contextLength = contextLength
        session = try GenerationSession(model: model, contextLength: contextLength, batchSize: batchSize, logitRows: 32)
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
        while keep < min(session.tokens.count, ctx.count - 1) && session.tokens[keep] == full[keep] { keep += 1 }
        session.truncate(to: keep)

        let vocab = model.config.vocabularySize
        var total = 0.0
        try session.prefill(Array(full[keep...]), scoring: (ctx.count - 1)..<(full.count - 1)) { positions, logits in
            for (i, p) in positions.enumerated() {
                total += logSoftmax(logits + i * vocab, count: vocab, at: Int(full[p + 1]))
            }
        }
        return total
    }
}
