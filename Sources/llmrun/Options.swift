import ArgumentParser
import Foundation
import LLMRuntime

/// -m and the ways to find a model without it.
struct ModelOptions: ParsableArguments {
    @Option(name: [.customShort("m"), .customLong("model")], help: "GGUF model file (default: $LLMRUN_MODEL, else Models/SmolLM2-135M-Instruct.Q4_1.gguf).")
    var model: String?

    @Option(name: .customLong("tokenizer"), help: "A SentencePiece tokenizer.model to use instead of the GGUF vocabulary.")
    var tokenizerModel: String?

    static let defaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// The model path: -m, else $LLMRUN_MODEL, else the default model next to the working
    /// directory or the executable (so `.build/release/llmrun` finds `Models/`).
    func resolvedPath() throws -> String {
        if let model { return model }
        if let env = ProcessInfo.processInfo.environment["LLMRUN_MODEL"], !env.isEmpty { return env }
        var candidates = ["Models/\(ModelOptions.defaultModelFile)"]
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for up in 0...3 {
            var dir = exe
            for _ in 0..<up { dir.deleteLastPathComponent() }
            candidates.append(dir.appendingPathComponent("Models/\(ModelOptions.defaultModelFile)").path)
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw CLIError.missingInput("no model given and the default model is not installed: run Tools/fetch-model, or pass -m FILE (or set LLMRUN_MODEL)")
    }
}

/// -t, as llama.cpp spells it.
struct ThreadOptions: ParsableArguments {
    @Option(name: [.customShort("t"), .customLong("threads")], help: "Threads (default: the machine's cores).")
    var threads: Int?

    var count: Int { threads ?? ThreadPool.processorCount }

    func validate() throws {
        if let threads, threads < 1 || threads > 512 { throw ValidationError("-t must be between 1 and 512") }
    }
}

/// Sampling flags with llama.cpp's names and defaults.
struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("temp"), help: "Temperature; 0 means greedy.")
    var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0 = all).")
    var topK: Int = 40
    @Option(name: .customLong("top-p"), help: "Keep the smallest set of tokens whose probability reaches p (1 = off).")
    var topP: Float = 0.95
    @Option(name: .customLong("min-p"), help: "Drop tokens less likely than min-p times the most likely (0 = off).")
    var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), help: "Penalise the last --repeat-last-n tokens (1 = off).")
    var repeatPenalty: Float = 1.0
    @Option(name: .customLong("repeat-last-n"), help: "How many recent tokens the repeat penalty looks at.")
    var repeatLastN: Int = 64
    @Option(name: [.customShort("s"), .customLong("seed")], help: "Random seed (default: random). Same seed, same output.")
    var seed: UInt64?

    func validate() throws {
        if temperature < 0 { throw ValidationError("--temp must be >= 0") }
        if !(0...1).contains(topP) { throw ValidationError("--top-p must be between 0 and 1") }
        if !(0...1).contains(minP) { throw ValidationError("--min-p must be between 0 and 1") }
        if topK < 0 { throw ValidationError("--top-k must be >= 0") }
        if repeatPenalty <= 0 { throw ValidationError("--repeat-penalty must be > 0") }
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
