import LLMRuntime

/// The logits a model file gives for a fixed 13-token text, two ways: every position of one
/// prefill batch, then the last position again fed token by token (the decode path). Tests that
/// compare a format with its twin run both through the same forward passes.
public func batchAndStepwiseLogits(_ path: String, threads: Int = 2) throws -> [[Float]] {
    let model = try LanguageModel(path: path, threads: threads)
    let tokens: [Int32] = [5, 77, 200, 31, 9, 140, 260, 3, 18, 64, 101, 250, 7]
    let vocab = model.config.vocabularySize
    let session = try GenerationSession(model: model, contextLength: 64, batchSize: tokens.count, logitRows: tokens.count)
    tokens.withUnsafeBufferPointer {
        model.transformer.forward($0, start: 0, cache: session.cache, state: session.state, logits: .all)
    }
    var out = tokens.indices.map { Array(UnsafeBufferPointer(start: session.state.logits + $0 * vocab, count: vocab)) }
    let stepwise = try GenerationSession(model: model, contextLength: 64)
    for t in tokens { try stepwise.feed(t) }
    out.append(Array(UnsafeBufferPointer(start: stepwise.logits, count: vocab)))
    return out
}
