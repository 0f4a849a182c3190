import LLMRuntime
import Tokenizers

/// A chat or text completion request, checked field by field: every field is either honoured
/// or refused with a 400 that names it.
public struct CompletionRequest: Sendable {
    public enum Input: Sendable {
        case messages([ChatMessage])
        case text(String)
        case tokens([Int32])
    }
    public var input: Input
    public var maxTokens: Int?
    public var parameters: SamplingParameters
    public var seedGiven = false
    public var stops: [String] = []
    public var stream = false
    public var includeUsage = false

    // Fields with no effect on the answer that clients commonly send; anything else unknown is refused.
    private static let metadata: Set<String> = ["model", "user", "stream", "stream_options", "n"]
    private static let chatFields: Set<String> = metadata.union([
        "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop",
        "presence_penalty", "frequency_penalty", "repeat_penalty", "logprobs", "response_format",
    ])
    private static let completionFields: Set<String> = metadata.union([
        "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop",
        "presence_penalty", "frequency_penalty", "repeat_penalty", "echo", "logprobs",
    ])

    /// Parses a request body; `chat` selects /v1/chat/completions' fields, else /v1/completions'.
    public init(json body: JSONValue, chat: Bool) throws(APIError) {
        guard case .object(let fields) = body else { throw .invalid("the request body must be a JSON object") }
        let allowed = chat ? Self.chatFields : Self.completionFields
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalid("unsupported parameter '\(unknown)' (this server honours: \(allowed.sorted().joined(separator: ", ")))", param: unknown, code: "unsupported_parameter")
        }
        let f = Fields(fields)
        if chat {
            guard let messages = fields["messages"], messages != .null else { throw .invalid("'messages' is required", param: "messages") }
            input = .messages(try Self.messages(messages))
            if try f.bool("logprobs") == true { throw .invalid("'logprobs' is not supported", param: "logprobs", code: "unsupported_parameter") }
            if let format = fields["response_format"], format != .null {
                guard case .string("text")? = format["type"] else {
                    throw .invalid("'response_format' must be {\"type\": \"text\"}: structured output is not supported", param: "response_format", code: "unsupported_parameter")
                }
            }
        } else {
            input = try Self.prompt(fields["prompt"])
            if try f.bool("echo") == true { throw .invalid("'echo' is not supported", param: "echo", code: "unsupported_parameter") }
            if let lp = fields["logprobs"], lp != .null { throw .invalid("'logprobs' is not supported", param: "logprobs", code: "unsupported_parameter") }
        }
        if let n = try f.int("n"), n != 1 { throw .invalid("only n = 1 is supported", param: "n", code: "unsupported_parameter") }
        let newer = try f.int(chat ? "max_completion_tokens" : "max_tokens")
        let older = try f.int("max_tokens")
        maxTokens = newer ?? older
        if let m = maxTokens, m < 0 { throw .invalid("max_tokens must be 0 or more", param: "max_tokens") }
        // Greedy unless asked otherwise: OpenAI's default temperature is 1; ours follows llama-server's 0.8.
        var p = SamplingParameters()
        if let t = try f.double("temperature") {
            guard (0...2).contains(t) else { throw .invalid("temperature must be between 0 and 2", param: "temperature") }
            p.temperature = Float(t)
        }
        if let v = try f.double("top_p") {
            guard (0...1).contains(v) else { throw .invalid("top_p must be between 0 and 1", param: "top_p") }
            p.topP = Float(v)
        }
        if let v = try f.int("top_k") {
            guard v >= 0 else { throw .invalid("top_k must be 0 or more", param: "top_k") }
            p.topK = v
        }
        if let v = try f.double("min_p") {
            guard (0...1).contains(v) else { throw .invalid("min_p must be between 0 and 1", param: "min_p") }
            p.minP = Float(v)
        }
        for (key, path) in [("presence_penalty", \SamplingParameters.presencePenalty), ("frequency_penalty", \.frequencyPenalty)] {
            if let v = try f.double(key) {
                guard (-2...2).contains(v) else { throw .invalid("\(key) must be between -2 and 2", param: key) }
                p[keyPath: path] = Float(v)
            }
        }
        // The range chat's /repeat-penalty takes: below it (down to a Float's 0) or above it
        // (up to a Float's inf), dividing and multiplying logits by it makes them inf or NaN.
        if let v = try f.double("repeat_penalty") {
            guard (0.01...100).contains(v) else { throw .invalid("repeat_penalty must be between 0.01 and 100 (1 = off)", param: "repeat_penalty") }
            p.repeatPenalty = Float(v)
        }
        if let seed = try f.int("seed") {
            p.seed = UInt64(bitPattern: Int64(seed))
            seedGiven = true
        } else {
            p.seed = UInt64.random(in: 0...UInt64.max)
        }
        parameters = p
        switch fields["stop"] {
        case nil, .null?: break
        case .string(let s)?: stops = [s]
        case .array(let a)?:
            stops = try a.map { (v) throws(APIError) -> String in
                guard case .string(let s) = v else { throw .invalid("'stop' must be a string or a list of strings", param: "stop") }
                return s
            }
            if stops.count > 4 { throw .invalid("'stop' takes at most 4 strings", param: "stop") }
        default: throw .invalid("'stop' must be a string or a list of strings", param: "stop")
        }
        stream = try f.bool("stream") ?? false
        switch fields["stream_options"] {
        case nil, .null?: break
        case .object(let o)?:
            if let bad = o.keys.first(where: { $0 != "include_usage" }) {
                throw .invalid("unsupported stream option '\(bad)'", param: "stream_options", code: "unsupported_parameter")
            }
            includeUsage = try Fields(o).bool("include_usage") ?? false
        default: throw .invalid("'stream_options' must be an object", param: "stream_options")
        }
        if case .string? = fields["model"] {} else if let m = fields["model"], m != .null {
            throw .invalid("'model' must be a string", param: "model")
        }
    }

    private static func messages(_ value: JSONValue) throws(APIError) -> [ChatMessage] {
        guard case .array(let list) = value, !list.isEmpty else { throw .invalid("'messages' must be a non-empty list", param: "messages") }
        return try list.enumerated().map { (i, m) throws(APIError) -> ChatMessage in
            guard case .object(let o) = m else { throw .invalid("messages[\(i)] must be an object", param: "messages") }
            guard case .string(let role)? = o["role"] else { throw .invalid("messages[\(i)].role must be a string", param: "messages") }
            guard ["system", "user", "assistant", "developer"].contains(role) else {
                throw .invalid("messages[\(i)].role '\(role)' is not supported (system, user, assistant)", param: "messages")
            }
            if let unknown = o.keys.sorted().first(where: { !["role", "content", "name"].contains($0) }) {
                throw .invalid("messages[\(i)].\(unknown) is not supported", param: "messages", code: "unsupported_parameter")
            }
            let content: String
            switch o["content"] {
            case .string(let s)?: content = s
            case .array(let parts)?:
                content = try parts.map { (part) throws(APIError) -> String in
                    guard case .string("text")? = part["type"], case .string(let text)? = part["text"] else {
                        throw .invalid("messages[\(i)].content: only text parts ({\"type\": \"text\", \"text\": ...}) are supported", param: "messages")
                    }
                    return text
                }.joined()
            default: throw .invalid("messages[\(i)].content must be a string or a list of text parts", param: "messages")
            }
            return ChatMessage(role: role == "developer" ? "system" : role, content: content)
        }
    }

    private static func prompt(_ value: JSONValue?) throws(APIError) -> Input {
        switch value {
        case .string(let s)?: return .text(s)
        case .array(let a)? where a.count == 1:
            if case .string(let s) = a[0] { return .text(s) }
            if case .array(let ids) = a[0] { return .tokens(try tokenIDs(ids)) }
            return .tokens(try tokenIDs(a))
        case .array(let a)? where !a.isEmpty:
            if case .string = a[0] { throw .invalid("only one prompt per request is supported", param: "prompt", code: "unsupported_parameter") }
            return .tokens(try tokenIDs(a))
        case nil, .null?: throw .invalid("'prompt' is required", param: "prompt")
        default: throw .invalid("'prompt' must be a string or a list of token ids", param: "prompt")
        }
    }

    private static func tokenIDs(_ list: [JSONValue]) throws(APIError) -> [Int32] {
        try list.map { (v) throws(APIError) -> Int32 in
            guard case .number(let d) = v, d == d.rounded(), abs(d) < 1e9 else { throw .invalid("'prompt' must be a string or a list of token ids", param: "prompt") }
            return Int32(d)
        }
    }
}

/// Typed access to a JSON object's optional fields (null counts as absent).
struct Fields {
    let o: [String: JSONValue]
    init(_ o: [String: JSONValue]) { self.o = o }

    func double(_ key: String) throws(APIError) -> Double? {
        switch o[key] {
        case nil, .null?: return nil
        case .number(let d)?: return d
        default: throw .invalid("'\(key)' must be a number", param: key)
        }
    }
    func int(_ key: String) throws(APIError) -> Int? {
        guard let d = try double(key) else { return nil }
        guard d == d.rounded(), abs(d) < 9e15 else { throw .invalid("'\(key)' must be an integer", param: key) }
        return Int(d)
    }
    func bool(_ key: String) throws(APIError) -> Bool? {
        switch o[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw .invalid("'\(key)' must be true or false", param: key)
        }
    }
}
