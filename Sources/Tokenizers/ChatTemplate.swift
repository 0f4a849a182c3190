import GGUF

/// A model's chat format: the kind, plus what the model's own template adds on its own
/// (ChatML templates such as SmolLM2's and Qwen2.5's insert a default system turn when the
/// conversation has none).
public struct ChatTemplate: Sendable, Equatable {
    public var kind: ChatTemplateKind
    /// chatml: the system prompt inserted when the first message is not a system message.
    public var defaultSystemPrompt: String?

    public init(kind: ChatTemplateKind, defaultSystemPrompt: String? = nil) {
        self.kind = kind
        self.defaultSystemPrompt = defaultSystemPrompt
    }

    /// Reads a `tokenizer.chat_template` text: detects the kind and, for chatml, a default system
    /// prompt written as a literal (`'<|im_start|>system\n…<|im_end|>\n'`). Nil if no kind matches.
    public init?(jinja: String) {
        guard let kind = ChatTemplateKind.detect(from: jinja) else { return nil }
        self.kind = kind
        self.defaultSystemPrompt = kind == .chatml ? Self.literalSystemPrompt(in: jinja) : nil
    }

    /// The template of a model file (`tokenizer.chat_template`), if it has one of the known kinds.
    public init?(file: GGUFFile) {
        guard let jinja = file["tokenizer.chat_template"]?.stringValue else { return nil }
        self.init(jinja: jinja)
    }

    /// The prompt text for `messages`; see `ChatTemplateKind.render`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, bos: String?, eos: String? = nil) -> String {
        kind.render(messages, addGenerationPrompt: addGenerationPrompt, bos: bos, eos: eos,
                    defaultSystemPrompt: defaultSystemPrompt)
    }

    /// The text of a string literal that holds a whole system turn: `<|im_start|>system`, a newline
    /// (real or `\n`), then text up to `<|im_end|>` without leaving the literal (no quote before it).
    static func literalSystemPrompt(in jinja: String) -> String? {
        let marker = "<|im_start|>system"
        var searchStart = jinja.startIndex
        while let r = jinja[searchStart...].firstRange(of: marker) {
            searchStart = r.upperBound
            var rest = jinja[r.upperBound...]
            if rest.hasPrefix("\\n") {
                rest = rest.dropFirst(2)
            } else if rest.hasPrefix("\n") {
                rest = rest.dropFirst(1)
            } else {
                continue
            }
            guard let end = rest.firstRange(of: "<|im_end|>") else { continue }
            let body = rest[..<end.lowerBound]
            if body.contains("'") || body.contains("\"") || body.contains("{{") || body.contains("{%") || body.isEmpty {
                continue
            }
            return unescape(String(body))
        }
        return nil
    }

    /// Undoes Jinja string-literal escapes (`\n`, `\t`, `\\`, `\'`, `\"`).
    static func unescape(_ s: String) -> String {
        var out = ""
        var it = s.makeIterator()
        while let c = it.next() {
            guard c == "\\", let n = it.next() else { out.append(c); continue }
            switch n {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            default: out.append(n)
            }
        }
        return out
    }
}

extension Tokenizer {
    /// Chat prompt `text` → ids: control tokens in the rendered template are parsed; BOS is
    /// prepended as an id when the vocabulary adds one and the text does not already start with it.
    public func encodeChat(_ text: String) -> [Int32] {
        var ids = encode(text, parseSpecial: true)
        if addsBOS, let bos = bosToken, ids.first != bos { ids.insert(bos, at: 0) }
        return ids
    }
}
