/// `tokenizer.ggml.token_type` values, as llama.cpp (and SentencePiece) number them.
public enum TokenType: Int, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6

    /// Tokens llama.cpp treats as special: matched in text before pre-tokenization (control and
    /// unknown ones only when parsing specials) and, for control/unknown, hidden when detokenizing.
    var isSpecial: Bool { self == .control || self == .userDefined || self == .unknown }

    /// Hidden by the detokenizer unless special tokens are rendered.
    var isHiddenByDefault: Bool { self == .control || self == .unknown }
}
