import FuzzSupport
import GGUF
import Tokenizers

// Arbitrary text through the byte-level BPE tokenizer (under several pre-tokenizers) and the
// SentencePiece one, on small vocabularies learnt at start-up (FuzzVocabulary). The first byte
// picks the tokenizer and the flags; the rest is the text, as UTF-8 (invalid sequences become
// U+FFFD, as a String made from a prompt file's bytes would). Checks, besides no crash:
// - every id is in the vocabulary;
// - decode(encode(text)) == text where it holds (no clean-up of spaces before punctuation, no
//   SentencePiece spaces or user-defined tokens in the text), byte for byte;
// - streaming the ids one by one gives the one-shot decode (for the first 24).

struct Case: Sendable {
    let name: String
    let tokenizer: any Tokenizer
    /// Whether decode(encode(text)) == text holds for this text.
    let roundTrips: @Sendable (String) -> Bool
}

let cases: [Case] = {
    let scratch = ScratchFile("tokenizers-vocab")
    defer { scratch.remove() }
    func load(_ metadata: [(key: String, value: GGUFValue)]) -> any Tokenizer {
        do {
            return try TokenizerLoader.load(from: FuzzVocabulary.file(metadata, at: scratch.path))
        } catch {
            fatalError("cannot build the harness's vocabulary: \(error)")
        }
    }
    // llama.cpp's clean_spaces rewrites " ?", " !", " .", " ,", " '" and the contractions.
    let cleanUp: @Sendable (String) -> Bool = { text in
        let bytes = Array(text.utf8)
        for i in bytes.indices.dropLast() where bytes[i] == 0x20 && "?!.,'".utf8.contains(bytes[i + 1]) { return false }
        return true
    }
    let userDefined = "<tool>"
    // SentencePiece writes spaces as U+2581 and gives each fragment after a special token a
    // space prefix.
    // Bytes, not Characters: "<tool>" followed by a combining mark is one Character fewer than
    // the token, yet the tokenizer (like llama.cpp's) still splits the token out of the bytes.
    let sentencePiece: @Sendable (String) -> Bool = { text in
        !text.unicodeScalars.contains("\u{2581}") && !Array(text.utf8).contains(Array(userDefined.utf8))
    }
    var out: [Case] = []
    for pre in ["qwen2", "smollm", "deepseek-llm", "deepseek-coder"] {
        out.append(Case(name: "bpe-\(pre)", tokenizer: load(FuzzVocabulary.bpe(pre: pre)), roundTrips: { _ in true }))
    }
    for pre in ["llama3", "gpt-2", "falcon", "default", "starcoder", "chatglm-bpe", "unknown-pre"] {
        out.append(Case(name: "bpe-\(pre)", tokenizer: load(FuzzVocabulary.bpe(pre: pre)), roundTrips: cleanUp))
    }
    out.append(Case(name: "spm", tokenizer: load(FuzzVocabulary.sentencePiece()), roundTrips: sentencePiece))
    out.append(Case(name: "spm-no-prefix", tokenizer: load(FuzzVocabulary.sentencePiece(addSpacePrefix: false)),
                    roundTrips: sentencePiece))
    return out
}()

@_cdecl("fuzz_tokenizers_main")
public func main(_ argc: CInt, _ argv: Arguments) -> CInt {
    runFuzzer(argc: argc, argv: argv, seeds: Seeds.write, setUp: { _ = cases.count }, fuzzTokenizers)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizers(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let selector = input.byte()
    let c = cases[Int(selector & 0x0F) % cases.count]
    let parseSpecial = selector & 0x10 != 0
    let renderSpecial = selector & 0x20 != 0
    let text = String(decoding: input.rest(), as: UTF8.self)
    let t = c.tokenizer

    let ids = t.encode(text, parseSpecial: parseSpecial)
    for id in ids where id < 0 || Int(id) >= t.vocabularySize {
        fatalError("\(c.name): id \(id) outside the vocabulary of \(t.vocabularySize) for \(String(reflecting: text))")
    }
    let decoded = t.decodeBytes(ids, renderSpecial: renderSpecial)
    if !parseSpecial, !renderSpecial, c.roundTrips(text), decoded != Array(text.utf8) {
        fatalError("\(c.name): \(String(reflecting: text)) encodes to \(ids), which decodes to \(String(reflecting: String(decoding: decoded, as: UTF8.self)))")
    }
    // The streaming detokenizer decodes the whole sequence at each token: a prefix keeps the
    // check linear (it was half the time on 60-byte inputs).
    let streamedIds = Array(ids.prefix(24))
    var stream = StreamingDetokenizer(tokenizer: t, renderSpecial: renderSpecial)
    var streamed = ""
    for id in streamedIds { streamed += stream.append(id) }
    streamed += stream.flush()
    let oneShot = t.decode(streamedIds, renderSpecial: renderSpecial)
    if streamed != oneShot {
        fatalError("\(c.name): streaming \(streamedIds) gives \(String(reflecting: streamed)), decoding them at once \(String(reflecting: oneShot))")
    }
    for id in ids.prefix(64) { _ = t.pieceBytes(id, renderSpecial: renderSpecial) }
    // Ids a model may sample that are not in the text: out of range, control tokens.
    _ = t.decodeBytes([-1, Int32(t.vocabularySize), Int32.max] + ids.prefix(4), renderSpecial: renderSpecial)
    return 0
}
