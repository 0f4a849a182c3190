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

func makeStepRunner(model: LanguageModel, slots: Int, promptChunk: Int, context: Int) -> any StepRunner {
    SequentialStepRunner()
}
