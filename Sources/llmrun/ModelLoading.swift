import Foundation
import LLMPrune
import LLMRuntime

/// Loads the model the options name, applying a prune plan in memory when one is given.
func loadModel(_ options: ModelOptions, threads: Int, plan: PrunePlanOption? = nil) throws -> LanguageModel {
    let path = try options.resolvedPath()
    if let tok = options.tokenizerModel, !FileManager.default.fileExists(atPath: tok) {
        throw CLIError.missingInput("\(tok): no such file (--tokenizer)")
    }
    var transform: ((inout ModelConfig, inout ModelWeights) throws -> Void)?
    if let planPath = plan?.prunePlan {
        guard FileManager.default.fileExists(atPath: planPath) else { throw CLIError.missingInput("\(planPath): no such file (--prune-plan)") }
        let prunePlan = try PrunePlan.read(from: planPath)
        transform = { config, weights in try prunePlan.apply(config: &config, weights: &weights) }
    }
    return try LanguageModel(path: path, threads: threads, sentencePieceModel: options.tokenizerModel, transform: transform)
}
