/// A text tokenizer built from a GGUF model's vocabulary, matching llama.cpp's tokenizer for it.
public protocol Tokenizer: Sendable {
    /// Number of tokens in the vocabulary.
    var vocabularySize: Int { get }
    /// Beginning-of-sequence token (`tokenizer.ggml.bos_token_id`, else llama.cpp's default for the model kind).
    var bosToken: Int32? { get }
    /// End-of-sequence token (`tokenizer.ggml.eos_token_id`, else llama.cpp's default for the model kind).
    var eosToken: Int32? { get }
    /// Whether a BOS token should start a prompt (`tokenizer.ggml.add_bos_token`, else llama.cpp's default:
    /// true for SentencePiece and Llama-3 style BPE, false for other BPE vocabularies).
    var addsBOS: Bool { get }
    /// Whether an EOS token should end a prompt (`tokenizer.ggml.add_eos_token`, default false).
    var addsEOS: Bool { get }
    /// Tokens that end generation: eos, eot, eom, and tokens llama.cpp recognises by text
    /// (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`, `<|endoftext|>`, `<|end|>`, FIM pad/repo/sep, …).
    var endOfGenerationTokens: Set<Int32> { get }

    /// Token ids for `text`. Never adds BOS/EOS. With `parseSpecial`, control tokens written in the
    /// text (e.g. `<|im_start|>`) become their ids; user-defined tokens are always matched, as in llama.cpp.
    func encode(_ text: String, parseSpecial: Bool) -> [Int32]

    /// The bytes llama.cpp's detokenizer produces for `tokens` (as `llama_detokenize` with
    /// remove_special = false): the vocabulary's leading-space rule for the first token and its
    /// space clean-up apply. Control and unknown tokens render as nothing unless `renderSpecial`.
    /// Out-of-range ids are skipped.
    func decodeBytes(_ tokens: [Int32], renderSpecial: Bool) -> [UInt8]

    /// The bytes of one token as llama.cpp's `llama_token_to_piece` gives them (no leading-space
    /// stripping, no clean-up): what a token-by-token printer shows.
    func pieceBytes(_ token: Int32, renderSpecial: Bool) -> [UInt8]

    /// The raw vocabulary string of a token (`""` if out of range).
    func tokenText(_ token: Int32) -> String
    /// The token whose raw vocabulary string is exactly `text`.
    func tokenID(for text: String) -> Int32?
}

extension Tokenizer {
    /// `decodeBytes` with control tokens hidden.
    public func decodeBytes(_ tokens: [Int32]) -> [UInt8] {
        decodeBytes(tokens, renderSpecial: false)
    }

    /// The decoded text; invalid UTF-8 (a character cut between tokens) becomes U+FFFD.
    public func decode(_ tokens: [Int32], renderSpecial: Bool = false) -> String {
        String(decoding: decodeBytes(tokens, renderSpecial: renderSpecial), as: UTF8.self)
    }

    /// `encode`, with BOS in front when the vocabulary asks for it and `addSpecial` is true
    /// and EOS after it when the vocabulary asks for that (llama.cpp's `common_tokenize(text, add_special, parse_special)`).
    public func encodePrompt(_ text: String, addSpecial: Bool = true, parseSpecial: Bool) -> [Int32] {
        var ids: [Int32] = []
        if addSpecial, addsBOS, let bos = bosToken { ids.append(bos) }
        ids.append(contentsOf: encode(text, parseSpecial: parseSpecial))
        if addSpecial, addsEOS, let eos = eosToken { ids.append(eos) }
        return ids
    }

    /// Whether `token` ends generation.
    public func isEndOfGeneration(_ token: Int32) -> Bool {
        endOfGenerationTokens.contains(token)
    }
}
