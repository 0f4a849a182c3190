import ArgumentParser
import Foundation

@main
struct LLMRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llmrun",
        abstract: "Run and prune LLaMA-style GGUF language models on small Linux boxes.",
        discussion: """
        Models are GGUF files (llama.cpp's format). -m takes a path, a file name or a short \
        name (smollm2-135m), looked up in $LLMRUN_MODELS, ~/.local/share/llmrun/models, \
        /usr/local/share/llmrun/models and ./Models; `llmrun list` shows what is there. Without \
        -m, llmrun uses $LLMRUN_MODEL, else smollm2-135m (fetch it with Tools/fetch-model).

        Examples:
          llmrun chat                                  talk to the default model
          echo "Why is the sky blue?" | llmrun chat    one answer, for scripts
          llmrun generate -p "Once upon a time" -n 64  raw completion
          llmrun info -m model.gguf --json             what a model file holds
          llmrun eval ppl -f wiki.txt -c 512           perplexity, as llama-perplexity

        Exit codes: 0 ok, 64 usage, 65 bad model data, 66 input missing or not a regular file, 73 cannot create \
        output, 74 I/O error, 75 budget infeasible, 130 interrupted (SIGINT), 143 terminated (SIGTERM).
        """,
        version: BuildInfo.text,
        subcommands: [Chat.self, Generate.self, Serve.self, Prune.self, Eval.self, Bench.self, Info.self, Tokenize.self, Quantize.self, List.self]
    )

    static func main() async {
        StandardStreams.prepare()
        Signals.install()
        var code: Int32 = 0
        var message: String?
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard let domainCode = ExitCode.forDomainError(error) else { exit(withError: error) }
            code = domainCode
            message = "\(error)"
        }
        // Output that could not be written outranks success and the interrupt its loss caused.
        if let failure = StandardStreams.outputFailure, code == 0 || code == ExitCode.interrupted {
            code = ExitCode.ioError
            message = "cannot write to standard output: \(failure)"
        } else if code == ExitCode.interrupted {
            code = Signals.exitCode
            if message == CLIError.interrupted.description { message = Signals.name }
        } else if code == 0 && Signals.received != 0 {
            // A command that does not poll for signals finished its work after one arrived.
            code = Signals.exitCode
            message = Signals.name
        }
        if let message { StandardStreams.err("llmrun: error: \(message)\n") }
        Foundation.exit(code)
    }
}
