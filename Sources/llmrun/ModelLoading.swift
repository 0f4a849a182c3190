import Foundation
import LLMRuntime

/// Loads the model the options name, saying on stderr what is being loaded when it takes a while.
func loadModel(_ options: ModelOptions, threads: Int) throws -> LanguageModel {
    let path = try options.resolvedPath()
    if let tok = options.tokenizerModel, !FileManager.default.fileExists(atPath: tok) {
        throw CLIError.missingInput("\(tok): no such file (--tokenizer)")
    }
    return try LanguageModel(path: path, threads: threads, sentencePieceModel: options.tokenizerModel)
}
