import FuzzSupport
import GGUF
import Tokenizers

// A tokenizer built from an arbitrary (corrupt) vocabulary GGUF: tokens, types, scores, merges,
// special ids and flags as a damaged model file may hold them, for both the byte-level BPE
// loader and the SentencePiece one (whose model libsentencepiece then parses). Loading must
// throw or give a tokenizer that encodes and decodes without crashing and only returns ids
// of its vocabulary.

nonisolated(unsafe) let scratch = ScratchFile("vocab")

let probe = "Hello world, it's 12345 <|im_start|>user\n日本語 🚀 \u{2581}x <s></s>\u{0}\t  end"

@_cdecl("fuzz_vocab_main")
public func main(_ argc: CInt, _ argv: Arguments) -> CInt {
    runFuzzer(argc: argc, argv: argv, seeds: Seeds.write, fuzzVocab)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocab(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    guard scratch.write(input.bytes) else { return 0 }
    let tokenizer: any Tokenizer
    do {
        tokenizer = try TokenizerLoader.load(from: GGUFFile(path: scratch.path))
    } catch {
        verbose("\(error)")
        return 0
    }
    let n = tokenizer.vocabularySize
    for parseSpecial in [false, true] {
        let ids = tokenizer.encode(probe, parseSpecial: parseSpecial)
        for id in ids where id < 0 || Int(id) >= n {
            fatalError("id \(id) outside the vocabulary of \(n)")
        }
        _ = tokenizer.decodeBytes(ids, renderSpecial: parseSpecial)
    }
    _ = tokenizer.encodeChat(probe)
    let sample = (0..<min(n, 512)).map { Int32($0) } + [Int32(n - 1), -1, Int32(n)]
    _ = tokenizer.decodeBytes(sample, renderSpecial: true)
    _ = tokenizer.decodeBytes(sample, renderSpecial: false)
    for id in sample { _ = tokenizer.pieceBytes(id, renderSpecial: true); _ = tokenizer.tokenText(id) }
    _ = tokenizer.endOfGenerationTokens
    verbose("loaded \(n) tokens")
    return 0
}
