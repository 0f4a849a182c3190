import ArgumentParser
import Foundation
import GGUF
import LLMRuntime

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model: perplexity on a text, accuracy on multiple-choice questions.",
        subcommands: [EvalPerplexity.self, EvalMultipleChoice.self]
    )
}

struct EvalPerplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppl",
        abstract: "Perplexity on a text file, with llama-perplexity's protocol (comparable figures).",
        discussion: """
        The text is tokenized once and cut into chunks of -c tokens; the second half of each \
        chunk is scored. Lower is better. The file is read as llama-perplexity reads its -f: one \
        final newline is dropped, and backslash sequences stay as written unless --escape asks \
        for them to be replaced (\\n, \\t, \\\\, \\xHH, ...), as its -e does.

          llmrun eval ppl -f wiki.txt -c 512 --chunks 20
          llmrun eval ppl -f wiki.txt --json

        --kl-base runs a reference model (the dense or unquantized one) over the same chunks \
        and also reports the KL divergence of this model's next-token distributions from it, \
        as llama-perplexity's --kl-divergence does: a pruned or quantized model's loss measured \
        on every token of the vocabulary, not only the text's.

          llmrun eval ppl -m pruned.gguf --kl-base dense.gguf -f held-out.txt --chunks 10
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
    @Flag(name: [.customShort("e"), .customLong("escape")], help: "Replace backslash escapes in the text first (llama-perplexity -e).")
    var escape = false
    @Option(name: .customLong("kl-base"), help: "A reference model with the same vocabulary: also report the KL divergence from its next-token distributions.")
    var klBase: String?
    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if context < 8 { throw ValidationError("-c must be at least 8") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be positive") }
        if batch < 1 { throw ValidationError("-b must be positive") }
    }

    func run() throws {
        let text = PromptFileText.prepare(try Terminal.readTextFile(file, what: "the evaluation text"),
                                          processEscapes: escape)
        let model = try loadModel(modelOptions, threads: threadOptions.count, plan: planOptions)
        let base = try klBase.map { spec in
            let path: String
            do { path = try ModelOptions.locator.resolve(spec) } catch { throw CLIError.missingInput("--kl-base: \(error)") }
            return try LanguageModel(path: path, threads: threadOptions.count, sentencePieceModel: modelOptions.tokenizerModel)
        }
        let evaluator = try PerplexityEvaluator(model: model, contextLength: runContext(context, model: model), batchSize: batch,
                                                base: base)
        let tokens = evaluator.tokenize(text)
        try evaluator.checkBaseTokenizes(text, as: tokens)
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
            try printJSON(result, pretty: false)
        } else {
            Terminal.writeLine(String(format: "PPL = %.4f +/- %.5f  (%d chunks of %d, %d tokens scored, %.1f s)",
                         result.perplexity, result.uncertainty, result.chunks, context, result.scoredTokens, result.seconds))
            if let d = result.divergence {
                Terminal.writeLine(String(format: "base PPL = %.4f  KL divergence = %.6f +/- %.6f (max %.4f)  same top token %.2f%%",
                                          d.basePerplexity, d.meanKL, d.klUncertainty, d.maxKL, 100 * d.sameTopToken))
            }
        }
        if Terminal.interrupted { throw CLIError.interrupted }
    }
}

/// One JSON object per item (the task's answers in order), replacing `path` only when complete.
private func writeItemLog(_ results: [MultipleChoiceResult], to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    var data = Data()
    for outcome in results.flatMap(\.outcomes) {
        data.append(try encoder.encode(outcome))
        data.append(0x0A)
    }
    try AtomicFile.write(data, to: path)
}

struct EvalMultipleChoice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mc",
        abstract: "Zero-shot multiple-choice accuracy (acc, acc_norm), scored as lm-evaluation-harness does.",
        discussion: """
        Each line of a task file is {"context", "choices": [...], "label"} or, for WinoGrande, \
        {"contexts": [...], "continuation", "label"}. Several -f files give a table and the mean.

          llmrun eval mc -f arc_easy_validation.jsonl --limit 200
          llmrun eval mc -f piqa.jsonl -f hellaswag.jsonl --json
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var planOptions: PrunePlanOption
    @Option(name: [.customShort("f"), .customLong("file")], help: "Task file (JSONL); repeat for several tasks.")
    var files: [String]
    @Option(help: "Score only the first N items of each task.")
    var limit: Int?
    @Option(name: .customLong("log-items"), help: "Also write every item's answer to this JSONL file (task, index, label, pred, pred_norm, logprobs), e.g. to compare two models item by item.")
    var logItems: String?
    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one task file with -f") }
        if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
    }

    func run() throws {
        var tasks: [(String, [MultipleChoiceItem])] = []
        for file in files {
            let text = try Terminal.readTextFile(file, what: "the task file")
            var items: [MultipleChoiceItem] = []
            for (n, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                do { items.append(try MultipleChoiceItem(json: String(line))) } catch {
                    throw CLIError(description: "\(file):\(n + 1): \(error)", exitCode: ExitCode.dataError)
                }
                if let limit, items.count >= limit { break }
            }
            if items.isEmpty {
                throw CLIError(description: "\(file): no items (the file holds one JSON object per line)", exitCode: ExitCode.dataError)
            }
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent.replacingOccurrences(of: "_validation", with: "")
            tasks.append((name, items))
        }
        if let logItems {
            try checkOutputPath(logItems, option: "--log-items",
                                inputs: [("-m", try modelOptions.resolvedPath())] + files.map { ("-f", $0) })
        }
        let model = try loadModel(modelOptions, threads: threadOptions.count, plan: planOptions)
        let evaluator = try MultipleChoiceEvaluator(model: model)
        Terminal.catchInterrupts()
        var results: [MultipleChoiceResult] = []
        for (name, items) in tasks {
            var bar = ProgressBar(label: name, total: items.count)
            let r = try evaluator.evaluate(task: name, items: items) { done in
                bar.update(done, detail: "\(done)/\(items.count)")
                return !Terminal.interrupted
            }
            bar.finish()
            results.append(r)
            if !json {
                // Padded in Swift: %-22@ does not pad on Linux's Foundation.
                Terminal.writeLine(name.padding(toLength: max(22, name.count), withPad: " ", startingAt: 0)
                      + String(format: " %5d items  acc %.4f  acc_norm %.4f  (%.0f s)", r.items, r.accuracy, r.normalizedAccuracy, r.seconds))
            }
            if Terminal.interrupted { throw CLIError.interrupted }
        }
        if let logItems { try writeItemLog(results, to: logItems) }
        let meanNorm = results.map(\.normalizedAccuracy).reduce(0, +) / Double(max(results.count, 1))
        let meanAcc = results.map(\.accuracy).reduce(0, +) / Double(max(results.count, 1))
        if json {
            struct Out: Codable { var tasks: [MultipleChoiceResult]; var mean_acc: Double; var mean_acc_norm: Double }
            try printJSON(Out(tasks: results, mean_acc: meanAcc, mean_acc_norm: meanNorm))
        } else if results.count > 1 {
            Terminal.writeLine("mean".padding(toLength: 22, withPad: " ", startingAt: 0)
                  + String(format: "              acc %.4f  acc_norm %.4f", meanAcc, meanNorm))
        }
    }
}
