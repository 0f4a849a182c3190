import LLMRuntime

/// One slot's share of an engine step: the tokens to feed after those in its cache.
struct StepItem {
    let slot: Int
    let tokens: [Int32]
    /// Whether the last token's logits are needed (a decode step, or a prompt's last chunk).
    let wantsLogits: Bool
    let isPrompt: Bool
}

/// The forward pass of an engine step, apart from the scheduling: feeds each item's tokens to
/// its slot's session and returns, per item, its logits when it asked for them. The pointers
/// stay valid until the next `run`.
protocol StepRunner {
    func run(_ items: [StepItem], sessions: [GenerationSession]) -> [UnsafeMutablePointer<Float>?]
}

/// Each slot's forward in turn, in its own session's run state.
struct SequentialStepRunner: StepRunner {
    func run(_ items: [StepItem], sessions: [GenerationSession]) -> [UnsafeMutablePointer<Float>?] {
        items.map { item in
            let session = sessions[item.slot]
            session.feedChunk(item.tokens[...], logits: item.wantsLogits)
            return item.wantsLogits ? session.logits : nil
        }
    }
}

/// Every slot's tokens in one batched forward pass (`Transformer.forward(batch:)`): the
/// weights are read once per step for all slots, attention runs per slot on its own cache.
final class BatchedStepRunner: StepRunner {
    let model: LanguageModel
    /// Rows for up to `rows` tokens and a logit row per slot.
    let state: RunState

    init(model: LanguageModel, rows: Int, slots: Int, context: Int) throws(ModelError) {
        self.model = model
        state = try RunState(config: model.config, maxBatch: rows, contextLength: context,
                         threads: model.pool.threadCount, logitRows: slots)
    }

    func run(_ items: [StepItem], sessions: [GenerationSession]) -> [UnsafeMutablePointer<Float>?] {
        let segments = items.map { item in
            BatchSegment(tokens: item.tokens, start: sessions[item.slot].tokens.count, cache: sessions[item.slot].cache,
                         logits: item.wantsLogits ? .last : .none)
        }
        model.transformer.forward(batch: segments, state: state)
        var row = 0
        let vocab = model.config.vocabularySize
        return items.map { item in
            sessions[item.slot].didFeed(item.tokens, logitsReady: false)
            guard item.wantsLogits else { return nil }
            defer { row += 1 }
            return state.logits + row * vocab
        }
    }
}
