/// Turns tokens into text as they are generated.
///
/// Keeps every token, decodes the whole sequence with the tokenizer's detokenizer, and returns
/// only what lies beyond the text already returned. That way decoders that depend on context
/// (SentencePiece drops the leading space of the first token only; clean-up rules such as
/// `" ,"` → `","` look at neighbours) come out exactly as a one-shot decode, and a character
/// whose UTF-8 bytes arrive in several byte tokens (emoji, CJK) is held back until complete.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: any Tokenizer
    /// Render control tokens (e.g. `<|im_end|>`) as their text instead of nothing.
    public let renderSpecial: Bool
    /// Context tokens followed by the appended ones.
    public private(set) var tokens: [Int32] = []
    private var emitted: [UInt8] = []
    private var emittedBeforeStart = 0
    private let cleansSpaces: Bool

    /// - Parameters:
    ///   - renderSpecial: show control tokens as their text.
    ///   - context: tokens already shown before the ones to stream (e.g. the end of the prompt
    ///     when continuing text); they shape how the first new token decodes but are not returned.
    public init(tokenizer: any Tokenizer, renderSpecial: Bool = false, context: [Int32] = []) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
        cleansSpaces = (tokenizer as? VocabularyBacked)?.vocabulary.cleanSpaces ?? false
        tokens = context
        emitted = context.isEmpty ? [] : tokenizer.decodeBytes(context, renderSpecial: renderSpecial)
        emittedBeforeStart = emitted.count
    }

    /// Adds a token; returns the newly completed text (often empty).
    public mutating func append(_ token: Int32) -> String {
        tokens.append(token)
        return take(final: false)
    }

    /// Adds several tokens; returns the newly completed text.
    public mutating func append<S: Sequence>(contentsOf newTokens: S) -> String where S.Element == Int32 {
        tokens.append(contentsOf: newTokens)
        return take(final: false)
    }

    /// Returns whatever is still held back (an incomplete character becomes U+FFFD).
    public mutating func flush() -> String {
        take(final: true)
    }

    /// Forgets all tokens, context included, and all text (for the next reply).
    public mutating func reset() {
        tokens.removeAll()
        emitted.removeAll()
        emittedBeforeStart = 0
    }

    /// All text returned so far (not the context's).
    public var text: String { String(decoding: emitted[min(emittedBeforeStart, emitted.count)...], as: UTF8.self) }

    private mutating func take(final: Bool) -> String {
        let all = tokenizer.decodeBytes(tokens, renderSpecial: renderSpecial)
        var end = all.count
        if !final {
            end = Self.completeUTF8Prefix(all)
            if cleansSpaces { end = Self.withoutRewritableTail(all, end) }
        }
        // Only the part beyond what was already returned is new. If the decoder rewrote text
        // that was already returned (which the hold-backs above prevent), continue after it.
        let start = emitted.count <= all.count && all[..<emitted.count].elementsEqual(emitted)
            ? emitted.count : min(emitted.count, all.count)
        guard end > start else { return "" }
        let new = all[start..<end]
        emitted = Array(all[..<end])
        return String(decoding: new, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a UTF-8 sequence.
    static func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var i = n - 1
        var continuation = 0
        while i >= 0 && continuation < 4 {
            let b = bytes[i]
            if b & 0xC0 == 0x80 {
                continuation += 1
                i -= 1
                continue
            }
            let need: Int
            if b < 0x80 { need = 0 } else if b & 0xE0 == 0xC0 { need = 1 } else if b & 0xF0 == 0xE0 { need = 2 } else if b & 0xF8 == 0xF0 { need = 3 } else { return n }
            return continuation >= need ? n : i
        }
        return n
    }

    /// Holds back a tail that llama.cpp's space clean-up could still rewrite when more text comes:
    /// a final " " (may be dropped before `?!.,`), " '" and " 'r" / " 'v" (contractions), and a
    /// final "'": " ' " cleans up to "'", but " ' ?" to " '?" (the "?" takes the second space
    /// first), so that quote is not final until the next character. Repeated until none applies.
    static func withoutRewritableTail(_ bytes: [UInt8], _ end: Int) -> Int {
        let space: UInt8 = 0x20, quote: UInt8 = 0x27
        var end = end
        while true {
            if end >= 1 && (bytes[end - 1] == space || bytes[end - 1] == quote) {
                end -= 1
            } else if end >= 3 && bytes[end - 3] == space && bytes[end - 2] == quote && (bytes[end - 1] == 0x72 || bytes[end - 1] == 0x76) {
                end -= 3
            } else {
                return end
            }
        }
    }
}
