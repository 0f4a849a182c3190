import ArgumentParser
import Foundation
import LLMRuntime

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model: perplexity on a text.",
        subcommands: [EvalPerplexity.self]
    )
}

struct EvalPerplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppl",
        abstract: "Perplexity on a text file, with llama-perplexity's protocol (comparable figures).",
        discussion: """
        The text is tokenized once and cut into chunks of -c tokens; the second half of each \
        chunk is scored. Lower is better.

          llmrun eval ppl -f wiki.txt -c 512 --chunks 20
          llmrun eval ppl -f wiki.txt --json
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var planOptions: PrunePlanOption
    @Option(name: [.customShort("f"), .customLong("file")], help: "Text file to score.")
    var file: String
    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Tokens per chunk.")
    var context: Int = 512
    @Option(help: "Score at most this many chunks (default: all).")
    var chunks: Int?
    @Option(name: [.customShort("b"), .customLong("batch-size")], help: "Tokens per forward batch.")
    var batch: Int = 256
    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if context < 8 { throw ValidationError("-c must be at least 8") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be positive") }
        if batch < 1 { throw ValidationError("-b must be positive") }
    }

    func run() throws {
        let text = try Terminal.readTextFile(file, what: "the evaluation text")
        let model = try loadModel(modelOptions, threads: threadOptions.count, plan: planOptions)
        let evaluator = PerplexityEvaluator(model: model, contextLength: context, batchSize: batch)
        let tokens = evaluator.tokenize(text)
        let total = min(chunks ?? evaluator.availableChunks(tokens), evaluator.availableChunks(tokens))
        if !json {
            Terminal.status("\(tokens.count) tokens, \(total) chunks of \(context)")
        }
        Terminal.catchInterrupts()
        var bar = ProgressBar(label: "perplexity", total: total)
        let result = try evaluator.evaluate(tokens: tokens, chunks: chunks) { done, running in
            bar.update(done, detail: String(format: "chunk %d/%d  ppl %.4f", done, total, running))
            return !Terminal.interrupted
        }
        bar.finish()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(String(format: "PPL = %.4f +/- %.5f  (%d chunks of %d, %d tokens scored, %.1f s)",
                         result.perplexity, result.uncertainty, result.chunks, context, result.scoredTokens, result.seconds))
        }
        if Terminal.interrupted { throw CLIError.interrupted }
    }
}
