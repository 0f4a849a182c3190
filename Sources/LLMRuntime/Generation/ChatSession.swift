import Tokenizers

/// A chat's messages and the session holding their tokens. Each turn re-renders the whole
/// conversation with the template and feeds only what differs from the cache, dropping the
/// oldest exchanges when the context cannot hold them plus room for an answer.
public final class ChatSession {
    public let model: LanguageModel
    public let template: ChatTemplate
    /// The system message; changing it re-renders the conversation from the start next turn.
    public var system: String?
    public let session: GenerationSession
    /// Context kept free for an answer when old turns are dropped.
    public let answerReserve: Int
    public private(set) var turns: [ChatMessage] = []
    /// Messages the last `respond` dropped to make room (0 when everything fit).
    public private(set) var droppedTurns = 0

    public init(model: LanguageModel, template: ChatTemplate, system: String? = nil, contextLength: Int, answerReserve: Int = 256) throws(ModelError) {
        self.model = model
        self.template = template
        self.system = system
        self.session = try GenerationSession(model: model, contextLength: contextLength)
        self.answerReserve = min(answerReserve, contextLength / 2)
    }

    /// Forgets the conversation.
    public func reset() {
        turns.removeAll()
        session.reset()
    }

    private func promptTokens() -> [Int32] {
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages += turns
        return model.tokenize(template.render(messages, addGenerationPrompt: true, bos: nil))
    }

    /// Adds a user message and generates the answer, handing each piece of text to `emit`; the
    /// answer joins the conversation. `maxTokens` nil: until the model stops or the context fills.
    public func respond(to text: String, maxTokens: Int?, parameters: SamplingParameters, stops: [String] = [],
                        isCancelled: @escaping () -> Bool = { false },
                        emit: (String) -> Void) throws(ModelError) -> GenerationResult {
        turns.append(ChatMessage(role: "user", content: text))
        var tokens = promptTokens()
        droppedTurns = 0
        while tokens.count + answerReserve > session.contextLength && turns.count > 1 {
            // Drop the oldest exchange (user + assistant) and try again.
            let drop = min(2, turns.count - 1)
            turns.removeFirst(drop)
            droppedTurns += drop
            tokens = promptTokens()
        }
        guard tokens.count < session.contextLength else {
            turns.removeLast()
            throw .invalidRequest("the message needs \(tokens.count) tokens but the context holds \(session.contextLength) (raise -c)")
        }
        let common = session.keepCommonPrefix(with: tokens)
        let limits = GenerationLimits(maxTokens: maxTokens ?? (session.contextLength - tokens.count), stops: stops)
        let generator = Generator(session: session, parameters: parameters, limits: limits)
        generator.isCancelled = isCancelled
        var answer = ""
        let result = try generator.run(prompt: Array(tokens[common...]), cachedTokens: common) { piece in
            answer += piece
            emit(piece)
        }
        turns.append(ChatMessage(role: "assistant", content: answer))
        return result
    }
}
