import ArgumentParser
import Foundation
import LLMRuntime
import Tokenizers

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt (raw completion, no chat template), streaming the text.",
        discussion: """
        The prompt comes from -p, -f, or standard input. Output goes to stdout; timings to \
        stderr (or into the JSON object with --json).

          llmrun generate -p "The capital of France is" -n 32 --temp 0
          llmrun generate -f prompt.txt -n 200 -s 42
          echo "def fib(n):" | llmrun generate --json
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var planOptions: PrunePlanOption
    @OptionGroup var sampling: SamplingOptions

    @Option(name: [.customShort("p"), .customLong("prompt")], help: "Prompt text.")
    var prompt: String?
    @Option(name: [.customShort("f"), .customLong("file")], help: "Read the prompt from a file.")
    var promptFile: String?
    @Option(name: [.customShort("n"), .customLong("n-predict")], parsing: .unconditional, help: "Tokens to generate (-1: until the model stops or the context is full).")
    var count: Int = -1
    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context length (default: the model's, at most 4096).")
    var context: Int?
    @Option(name: [.customShort("b"), .customLong("batch-size")], help: "Prompt tokens per forward batch.")
    var batch: Int = 256
    @Flag(name: .customLong("ignore-eos"), help: "Keep generating past end-of-generation tokens.")
    var ignoreEOS = false
    @Flag(name: .customLong("no-display-prompt"), help: "Print only the continuation, not the prompt.")
    var noDisplayPrompt = false
    @Flag(name: .customLong("no-bos"), help: "Do not add the BOS token even if the vocabulary asks for it.")
    var noBOS = false
    @Flag(name: [.customShort("e"), .customLong("escape")], help: "Replace backslash escapes in the prompt (\\n, \\t, \\xHH, ...), as llama-completion does by default.")
    var escape = false
    @Option(name: .customLong("stop"), help: ArgumentHelp("Stop when the text contains this string, which is not printed (repeatable; with -e, escapes apply: --stop '\\n').", valueName: "text"))
    var stops: [String] = []
    @Flag(help: "Print one JSON object (text, token counts, timings) instead of streaming.")
    var json = false
    @Flag(name: .customLong("json-prompt"), help: "With --json: put the prompt in the object too (as -e left it).")
    var jsonPrompt = false

    func validate() throws {
        if jsonPrompt && !json { throw ValidationError("--json-prompt goes with --json") }
        if prompt != nil && promptFile != nil { throw ValidationError("give the prompt with -p or -f, not both") }
        if count < -1 { throw ValidationError("-n must be -1 or more") }
        if let context, context < 8 { throw ValidationError("-c must be at least 8") }
        if batch < 1 { throw ValidationError("-b must be positive") }
    }

    func run() throws {
        var text: String
        if let prompt { text = prompt }
        else if let promptFile { text = try Terminal.readTextFile(promptFile, what: "the prompt") }
        else if !Terminal.stdinIsTTY { text = try Terminal.readAllInput(what: "the prompt") }
        else { throw CLIError.usage("no prompt: pass -p TEXT, -f FILE, or pipe it on standard input") }
        if escape { text = PromptFileText.replacingEscapes(in: text) }
        let stopStrings = escape ? stops.map { PromptFileText.replacingEscapes(in: $0) } : stops

        let model = try loadModel(modelOptions, threads: threadOptions.count, plan: planOptions)
        let ctx = runContext(context, model: model)
        let session = try GenerationSession(model: model, contextLength: ctx, batchSize: batch)
        let promptTokens = model.tokenize(text, addBOS: noBOS ? false : nil)
        guard !promptTokens.isEmpty else { throw CLIError.usage("the prompt is empty") }
        // Checked before the prompt is echoed, so a refused prompt prints only the error.
        try session.checkRoom(for: promptTokens.count)

        Terminal.catchInterrupts()
        if !json && !noDisplayPrompt { Terminal.write(text) }
        var streamed = ""
        let generator = Generator(session: session, parameters: sampling.parameters,
                                  limits: GenerationLimits(maxTokens: count >= 0 ? count : nil,
                                                           stopAtEndOfGeneration: !ignoreEOS, stops: stopStrings))
        generator.isCancelled = { Terminal.interrupted }
        let result = try generator.run(prompt: promptTokens) { piece in
            if json { streamed += piece } else { Terminal.write(piece) }
        }
        if json {
            let out = GenerateJSON(prompt: jsonPrompt ? text : nil, text: streamed, promptTokens: promptTokens.count,
                                   generatedTokens: result.generated, stopReason: result.stopReason.rawValue,
                                   stopString: result.stopString, loadMs: model.loadSeconds * 1000,
                                   promptMs: result.promptSeconds * 1000, generationMs: result.generationSeconds * 1000,
                                   promptTokensPerSecond: result.promptTokensPerSecond,
                                   generationTokensPerSecond: result.generationTokensPerSecond)
            try printJSON(out, pretty: false)
        } else {
            Terminal.write("\n")
            Terminal.status(result.summary)
        }
        if result.stopReason == .interrupted { throw CLIError.interrupted }
    }
}

struct GenerateJSON: Codable {
    /// Only when asked (`--json-prompt`): a script already has its prompt, and it can be large.
    var prompt: String?
    var text: String
    var promptTokens: Int
    var generatedTokens: Int
    var stopReason: String
    /// The stop string that ended generation (stop_reason "stop").
    var stopString: String?
    var loadMs: Double
    var promptMs: Double
    var generationMs: Double
    var promptTokensPerSecond: Double
    var generationTokensPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case prompt, text
        case promptTokens = "prompt_tokens", generatedTokens = "generated_tokens", stopReason = "stop_reason", stopString = "stop_string"
        case loadMs = "load_ms", promptMs = "prompt_ms", generationMs = "generation_ms"
        case promptTokensPerSecond = "prompt_tokens_per_second", generationTokensPerSecond = "generation_tokens_per_second"
    }
}

extension GenerationResult {
    var summary: String {
        String(format: "prompt: %d tokens in %.2f s (%.1f t/s) · generated: %d tokens in %.2f s (%.1f t/s) · stop: %@",
               promptTokens, promptSeconds, promptTokensPerSecond, generated, generationSeconds,
               generationTokensPerSecond, stopReason.rawValue)
    }
}
