import ArgumentParser
import Foundation
import LLMRuntime

/// -m and the ways to find a model without it.
struct ModelOptions: ParsableArguments {
    @Option(name: [.customShort("m"), .customLong("model")], help: "GGUF model: a path, a file name or a short name (smollm2-135m; see llmrun list), looked up in $LLMRUN_MODELS, ~/.local/share/llmrun/models, /usr/local/share/llmrun/models and ./Models (default: $LLMRUN_MODEL, else smollm2-135m).")
    var model: String?

    @Option(name: .customLong("tokenizer"), help: "A SentencePiece tokenizer.model to use instead of the GGUF vocabulary.")
    var tokenizerModel: String?

    /// The folders searched for models; after the standard ones, Models/ of the checkout that
    /// holds the executable (so `.build/release/llmrun` finds the repository's models).
    static var locator: ModelLocator {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let here = URL(fileURLWithPath: "Models").standardizedFileURL.path
        let checkout = (0...3).map { up -> String in
            var dir = exe
            for _ in 0..<up { dir.deleteLastPathComponent() }
            return dir.appendingPathComponent("Models").path
        }.filter { $0 != here && FileManager.default.fileExists(atPath: $0) }
        return ModelLocator.standard(extra: checkout)
    }

    /// The model path: -m, else $LLMRUN_MODEL, else the default model, found by ModelLocator.
    func resolvedPath() throws -> String {
        let spec = model ?? ProcessInfo.processInfo.environment["LLMRUN_MODEL"].flatMap { $0.isEmpty ? nil : $0 } ?? ModelLocator.defaultName
        do {
            return try Self.locator.resolve(spec)
        } catch {
            throw CLIError.missingInput(error.description)
        }
    }
}

/// -t, as llama.cpp spells it.
struct ThreadOptions: ParsableArguments {
    @Option(name: [.customShort("t"), .customLong("threads")], parsing: .unconditional, help: "Threads (default: the machine's cores).")
    var threads: Int?

    var count: Int { threads ?? ThreadPool.processorCount }

    func validate() throws {
        if let threads, threads < 1 || threads > 512 { throw ValidationError("-t must be between 1 and 512") }
    }
}

/// Sampling flags with llama.cpp's names and defaults.
struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("temp"), parsing: .unconditional, help: "Temperature; 0 means greedy.", transform: NumericOption.finite)
    var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Keep the k most likely tokens (0 = all).")
    var topK: Int = 40
    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Keep the smallest set of tokens whose probability reaches p (1 = off).", transform: NumericOption.finite)
    var topP: Float = 0.95
    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Drop tokens less likely than min-p times the most likely (0 = off).", transform: NumericOption.finite)
    var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), parsing: .unconditional, help: "Penalise the last --repeat-last-n tokens (1 = off).", transform: NumericOption.finite)
    var repeatPenalty: Float = 1.0
    @Option(name: .customLong("repeat-last-n"), parsing: .unconditional, help: "How many recent tokens the repeat penalty looks at.")
    var repeatLastN: Int = 64
    @Option(name: [.customShort("s"), .customLong("seed")], parsing: .unconditional,
            help: "Random seed (default or -1: random). Same seed, same output.", transform: NumericOption.seed)
    var seed: UInt64?

    func validate() throws {
        if temperature < 0 { throw ValidationError("--temp must be >= 0") }
        if !(0...1).contains(topP) { throw ValidationError("--top-p must be between 0 and 1") }
        if !(0...1).contains(minP) { throw ValidationError("--min-p must be between 0 and 1") }
        if topK < 0 { throw ValidationError("--top-k must be >= 0") }
        if repeatPenalty <= 0 { throw ValidationError("--repeat-penalty must be > 0") }
        if repeatLastN < 0 { throw ValidationError("--repeat-last-n must be >= 0") }
    }

    /// The library's settings; without -s, a random seed.
    var parameters: SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                           seed: seed ?? UInt64.random(in: 0...UInt64.max),
                           repeatPenalty: repeatPenalty, penaltyWindow: repeatLastN)
    }
}

/// --prune-plan: apply a plan written by `llmrun prune --plan-out` at load, in memory.
struct PrunePlanOption: ParsableArguments {
    @Option(name: .customLong("prune-plan"), help: "Apply a prune plan (from `llmrun prune --plan-out`) at load, without writing a new file: the model the prune would write with --out-type source.")
    var prunePlan: String?
}

/// The context a run uses: -c, else the model's trained context up to 4096. A -c past the
/// trained context is allowed (RoPE extrapolates, badly) but warned about on stderr.
func runContext(_ requested: Int?, model: LanguageModel) -> Int {
    let trained = model.config.contextLength
    guard let requested else { return min(trained, 4096) }
    if requested > trained {
        Terminal.status("warning: -c \(requested) exceeds the model's trained context of \(trained) positions; output past it degrades")
    }
    return requested
}
