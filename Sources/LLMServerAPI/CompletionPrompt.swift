import Tokenizers

/// What the loaded model allows a request, checked before the request is queued.
public struct ModelLimits: Sendable {
    public var vocabularySize: Int
    /// Tokens one slot's context holds (`-c`).
    public var context: Int

    public init(vocabularySize: Int, context: Int) {
        self.vocabularySize = vocabularySize
        self.context = context
    }
}

extension CompletionRequest {
    /// The prompt's token ids: messages rendered with `template`, text tokenized by `tokenize`
    /// (the model's), ids checked against the vocabulary. Refused when empty or when it leaves
    /// no room in a slot's context.
    public func promptTokens(limits: ModelLimits, template: ChatTemplate?,
                             tokenize: (String) -> [Int32]) throws(APIError) -> [Int32] {
        let prompt: [Int32]
        let chat: Bool
        switch input {
        case .messages(let messages):
            chat = true
            guard let template else {
                throw .invalid("the model has no chat template: start the server with --chat-template, or use /v1/completions")
            }
            prompt = tokenize(template.render(messages, addGenerationPrompt: true, bos: nil))
        case .text(let text):
            chat = false
            prompt = tokenize(text)
        case .tokens(let ids):
            chat = false
            let vocab = limits.vocabularySize
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocab }) {
                throw .invalid("token id \(bad) is outside the vocabulary (0..<\(vocab))", param: "prompt")
            }
            prompt = ids
        }
        guard !prompt.isEmpty else { throw .invalid("the prompt is empty", param: chat ? "messages" : "prompt") }
        let context = limits.context
        guard prompt.count < context else {
            throw .invalid("the prompt needs \(prompt.count) tokens but a slot's context holds \(context) (start the server with a larger -c)",
                           code: "context_length_exceeded")
        }
        return prompt
    }
}
