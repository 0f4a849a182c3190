import Foundation
import LLMPrune
import GGUF
import LLMRuntime
import Tokenizers

/// Loads the model the options name, applying a prune plan in memory when one is given.
func loadModel(_ options: ModelOptions, threads: Int, plan: PrunePlanOption? = nil) throws -> LanguageModel {
    let path = try options.resolvedPath()
    try checkTokenizerOption(options)
    var prunePlan: PrunePlan?
    if let planPath = plan?.prunePlan {
        guard FileManager.default.fileExists(atPath: planPath) else { throw CLIError.missingInput("\(planPath): no such file (--prune-plan)") }
        prunePlan = try PrunePlan.read(from: planPath)
    }
    return try LanguageModel(path: path, threads: threads, sentencePieceModel: options.tokenizerModel, loadTransform: prunePlan)
}

/// Loads only the tokenizer of the model the options name (as llama-tokenize's vocab_only): no
/// weights, so any GGUF with a vocabulary works, whatever its architecture or tensor types.
func loadTokenizer(_ options: ModelOptions) throws -> any Tokenizer {
    let path = try options.resolvedPath()
    try checkTokenizerOption(options)
    return try TokenizerLoader.load(from: try GGUFFile(path: path), sentencePieceModel: options.tokenizerModel)
}

private func checkTokenizerOption(_ options: ModelOptions) throws {
    if let tok = options.tokenizerModel, !FileManager.default.fileExists(atPath: tok) {
        throw CLIError.missingInput("\(tok): no such file (--tokenizer)")
    }
}

/// Loads the model to serve `slots` sequences of `context` positions each within `budget`:
/// plans as `prune --budget` does with every slot's KV cache counted, prunes in memory (no file
/// written) and prints what it did on stderr. An impossible budget throws
/// `PruneError.budgetInfeasible` (exit 75) before any work.
func loadModel(_ options: ModelOptions, threads: Int, budget: ByteSize, context: Int, slots: Int,
               batch: Int = 256) throws -> (model: LanguageModel, plan: ServingPlan) {
    let path = try options.resolvedPath()
    try checkTokenizerOption(options)
    returnLargeBuffersToTheSystem()
    Terminal.catchInterrupts()
    var lastPhase = ""
    let plan = try ServingBudget.plan(modelPath: path, budget: budget.bytes, context: context, slots: slots, batch: batch,
                                      threads: threads, progress: { p in
        if p.phase != lastPhase {
            Terminal.status("budget: \(p.phase) (\(String(format: "%.0f s", p.elapsed)), RSS \(ByteSize(bytes: p.residentBytes)))")
            lastPhase = p.phase
        }
    }, shouldStop: { Terminal.interrupted })
    Terminal.status(plan.description)
    let model = try LanguageModel(path: path, threads: threads, sentencePieceModel: options.tokenizerModel, loadTransform: plan)
    return (model, plan)
}
