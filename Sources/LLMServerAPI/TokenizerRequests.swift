/// The body of POST /tokenize, in llama-server's shape.
public struct TokenizeRequest: Sendable, Equatable {
    public var content: String
    public var addSpecial = false
    public var parseSpecial = true
    /// Answer each id with its piece's text (or bytes, when not UTF-8).
    public var withPieces = false

    public init(json body: JSONValue) throws(APIError) {
        guard case .object(let o) = body else { throw .invalid("the request body must be a JSON object") }
        if let unknown = o.keys.sorted().first(where: { !["content", "add_special", "parse_special", "with_pieces"].contains($0) }) {
            throw .invalid("unsupported parameter '\(unknown)'", param: unknown, code: "unsupported_parameter")
        }
        guard case .string(let content)? = o["content"] else { throw .invalid("'content' must be a string", param: "content") }
        self.content = content
        let f = Fields(o)
        addSpecial = try f.bool("add_special") ?? false
        parseSpecial = try f.bool("parse_special") ?? true
        withPieces = try f.bool("with_pieces") ?? false
    }
}

/// The body of POST /detokenize, in llama-server's shape: ids checked against the model's
/// vocabulary, so the tokenizer never sees one outside it.
public struct DetokenizeRequest: Sendable, Equatable {
    public var tokens: [Int32]

    public init(json body: JSONValue, vocabularySize vocab: Int) throws(APIError) {
        guard case .object(let o) = body else { throw .invalid("the request body must be a JSON object") }
        if let unknown = o.keys.sorted().first(where: { $0 != "tokens" }) {
            throw .invalid("unsupported parameter '\(unknown)'", param: unknown, code: "unsupported_parameter")
        }
        guard case .array(let list)? = o["tokens"] else { throw .invalid("'tokens' must be a list of token ids", param: "tokens") }
        tokens = try list.map { (v) throws(APIError) -> Int32 in
            guard case .number(let d) = v, d == d.rounded(), d >= 0, d < Double(vocab) else {
                throw .invalid("'tokens' must be token ids in 0..<\(vocab)", param: "tokens")
            }
            return Int32(d)
        }
    }
}
