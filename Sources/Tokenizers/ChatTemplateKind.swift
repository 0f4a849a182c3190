/// The chat formats llmrun renders natively, reproducing the output of the models' Jinja templates.
public enum ChatTemplateKind: String, CaseIterable, Sendable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen2, …).
    case chatml
    /// `<s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant </s>` (Llama-2 chat, Mistral-style `[INST]`).
    case llama2
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` (Llama-3).
    case llama3
    /// `<start_of_turn>user\ncontent<end_of_turn>\n`, assistant as "model", system folded into the first user turn.
    case gemma
    /// `<|user|>\ncontent</s>\n` (Zephyr).
    case zephyr

    /// Recognises a format from a `tokenizer.chat_template` Jinja text by its marker strings,
    /// in llama.cpp's spirit: `<|im_start|>` → chatml, `<|start_header_id|>` → llama3,
    /// `<start_of_turn>` → gemma, `<|user|>` (without Phi-3's `<|end|>`) → zephyr, `[INST]` → llama2.
    public static func detect(from jinja: String) -> ChatTemplateKind? {
        if jinja.contains("<|im_start|>") { return .chatml }
        if jinja.contains("<|start_header_id|>") && jinja.contains("<|end_header_id|>") { return .llama3 }
        if jinja.contains("<start_of_turn>") { return .gemma }
        if jinja.contains("<|user|>") && !jinja.contains("<|end|>") { return .zephyr }
        if jinja.contains("[INST]") { return .llama2 }
        return nil
    }

    /// The prompt text for `messages`, as the model's template renders it.
    ///
    /// - Parameters:
    ///   - addGenerationPrompt: end with the header of an assistant turn (not used by llama2, whose
    ///     template has none: the prompt ends after `[/INST]`).
    ///   - bos: the BOS token's text for templates that write `bos_token` (llama2, llama3, gemma);
    ///     pass nil when BOS is added as a token id instead.
    ///   - eos: the EOS token's text for templates that write `eos_token` (llama2 after assistant
    ///     turns, zephyr after every turn); nil means "</s>".
    ///   - defaultSystemPrompt: chatml only: the system turn some templates insert when the
    ///     conversation has none (SmolLM2, Qwen2.5); see `ChatTemplate(jinja:)`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, bos: String?, eos: String? = nil,
                       defaultSystemPrompt: String? = nil) -> String {
        let bosText = bos ?? ""
        let eosText = eos ?? "</s>"
        var out = ""
        switch self {
        case .chatml:
            if let def = defaultSystemPrompt, let first = messages.first, first.role != "system" {
                out += "<|im_start|>system\n\(def)<|im_end|>\n"
            }
            for m in messages {
                out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n"
            }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }

        case .llama2:
            // A leading system message is merged into the first user turn; contents are stripped.
            var rest = messages[...]
            var system: String?
            if let first = rest.first, first.role == "system" {
                system = first.content
                rest = rest.dropFirst()
            }
            for (i, m) in rest.enumerated() {
                var content = m.content
                if i == 0, let system {
                    content = "<<SYS>>\n\(system)\n<</SYS>>\n\n" + content
                }
                if m.role == "user" {
                    out += "\(bosText)[INST] \(Self.strip(content)) [/INST]"
                } else if m.role == "assistant" {
                    out += " \(Self.strip(content)) \(eosText)"
                }
            }

        case .llama3:
            for (i, m) in messages.enumerated() {
                if i == 0 { out += bosText }
                out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(Self.strip(m.content))<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }

        case .gemma:
            // No system role: its text (plus a blank line) starts the first user turn.
            out += bosText
            var rest = messages[...]
            var prefix = ""
            if let first = rest.first, first.role == "system" {
                prefix = first.content + "\n\n"
                rest = rest.dropFirst()
            }
            for (i, m) in rest.enumerated() {
                let role = m.role == "assistant" ? "model" : m.role
                out += "<start_of_turn>\(role)\n" + (i == 0 ? prefix : "") + Self.strip(m.content) + "<end_of_turn>\n"
            }
            if addGenerationPrompt { out += "<start_of_turn>model\n" }

        case .zephyr:
            for m in messages where ["user", "system", "assistant"].contains(m.role) {
                out += "<|\(m.role)|>\n\(m.content)\(eosText)\n"
            }
            if addGenerationPrompt && !messages.isEmpty { out += "<|assistant|>\n" }
        }
        return out
    }

    /// Jinja's `trim` / Python's `str.strip()`: whitespace off both ends.
    static func strip(_ s: String) -> String {
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
