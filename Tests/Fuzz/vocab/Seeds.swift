import FuzzSupport
import GGUF

/// The committed seed corpus (Tests/FuzzCorpus/vocab), written by `Tools/fuzz --seeds vocab`:
/// small vocabulary-only files (20 merges) for BPE under two pre-tokenizers and SentencePiece
/// with and without the space prefix.
enum Seeds {
    static func write(to dir: String) throws {
        _ = try FuzzVocabulary.file(FuzzVocabulary.bpe(pre: "llama3", mergeCount: 20), at: dir + "/bpe-llama3")
        _ = try FuzzVocabulary.file(FuzzVocabulary.bpe(pre: "qwen2", mergeCount: 20)
                                        + [("tokenizer.ggml.eot_token_id", .uint32(300))], at: dir + "/bpe-qwen2")
        _ = try FuzzVocabulary.file(FuzzVocabulary.sentencePiece(mergeCount: 20), at: dir + "/spm")
        _ = try FuzzVocabulary.file(FuzzVocabulary.sentencePiece(mergeCount: 20, addSpacePrefix: false)
                                        + [("tokenizer.ggml.add_eos_token", .bool(true))], at: dir + "/spm-no-prefix")
    }
}
