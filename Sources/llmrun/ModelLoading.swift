import Foundation
import LLMPrune
import GGUF
import LLMRuntime
import Tokenizers

/// Loads the model the options name, applying a prune plan in memory when one is given.
func loadModel(_ options: ModelOptions, threads: Int, plan: PrunePlanOption? = nil) throws -> LanguageModel {
    let path = try options.resolvedPath()
    try checkTokenizerOption(options)
    var transform: ((inout ModelConfig, inout ModelWeights) throws -> Void)?
    if let planPath = plan?.prunePlan {
        try checkInputFile(planPath, option: "--prune-plan", regularOnly: true)
        let prunePlan = try PrunePlan.read(from: planPath)
        transform = { config, weights in try prunePlan.apply(config: &config, weights: &weights) }
    }
    return try LanguageModel(path: path, threads: threads, sentencePieceModel: options.tokenizerModel, transform: transform)
}

/// Loads only the tokenizer of the model the options name (as llama-tokenize's vocab_only): no
/// weights, so any GGUF with a vocabulary works, whatever its architecture or tensor types.
func loadTokenizer(_ options: ModelOptions) throws -> any Tokenizer {
    let path = try options.resolvedPath()
    try checkTokenizerOption(options)
    return try TokenizerLoader.load(from: try GGUFFile(path: path), sentencePieceModel: options.tokenizerModel)
}

private func checkTokenizerOption(_ options: ModelOptions) throws {
    if let tok = options.tokenizerModel { try checkInputFile(tok, option: "--tokenizer", regularOnly: true) }
}
