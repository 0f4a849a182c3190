import FuzzSupport
import GGUF
import LLMRuntime
import TestSupport

/// The committed seed corpus (Tests/FuzzCorpus/gguf), written by `Tools/fuzz --seeds gguf`:
/// tiny models (16 tokens) of each runnable architecture and weight format the kernels take,
/// and a vocabulary-only file; all a few kB, so mutations land in headers more than in weights.
enum Seeds {
    static func write(to dir: String) throws {
        func tiny(_ arch: String, _ type: GGMLType, _ edit: (inout TinyModel) -> Void = { _ in }) -> TinyModel {
            var t = arch == "gemma3" ? TinyModel.gemma3(layers: 2) : TinyModel()
            t.architecture = arch
            t.hiddenSize = 32
            t.headDim = 8
            t.contextLength = 64
            if arch != "gemma3" {
                t.layers = [LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 32)]
            } else {
                t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 1, feedForwardLength: 32), count: 2)
            }
            t.matrixType = type
            t.embeddingType = type
            t.vocabularyOverride = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"] + TinyModel.specials
            t.metadataOverrides["tokenizer.ggml.merges"] = .array(.string, [.string("a b")])
            edit(&t)
            return t
        }
        try tiny("llama", .q8_0).write(to: dir + "/llama-q8_0")
        try tiny("qwen2", .q5_1).write(to: dir + "/qwen2-q5_1")
        try tiny("gemma3", .q4_0) { $0.embeddingType = .q4_1 }.write(to: dir + "/gemma3-q4_0")
        try tiny("deci", .q5_0) {
            $0.layers = [LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 32),
                         LayerShape(headCount: 4, kvHeadCount: 1, feedForwardLength: 0)]
            $0.perLayerArrays = true
            $0.mlpBias = true
            $0.outputBiases = true
            $0.tiedOutput = false
        }.write(to: dir + "/deci-q5_0-pruned")
        try tiny("llama", .f16) {
            $0.hiddenSize = 16
            $0.headDim = 4
            $0.embeddingType = .f32
        }.write(to: dir + "/llama-f16")
        _ = try FuzzVocabulary.file(Array(FuzzVocabulary.sentencePiece(mergeCount: 0).prefix(4)), at: dir + "/vocab-spm")
    }
}
