import ArgumentParser
import Foundation

@main
struct LLMRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llmrun",
        abstract: "Run and prune LLaMA-style GGUF language models on small Linux boxes.",
        discussion: """
        Models are GGUF files (llama.cpp's format). Without -m, llmrun uses $LLMRUN_MODEL, \
        else Models/SmolLM2-135M-Instruct.Q4_1.gguf (fetch it with Tools/fetch-model).

        Examples:
          llmrun chat                                  talk to the default model
          echo "Why is the sky blue?" | llmrun chat    one answer, for scripts
          llmrun generate -p "Once upon a time" -n 64  raw completion
          llmrun info -m model.gguf --json             what a model file holds
          llmrun eval ppl -f wiki.txt -c 512           perplexity, as llama-perplexity

        Exit codes: 0 ok, 64 usage, 65 bad model data, 66 input missing, 73 cannot create \
        output, 74 I/O error, 75 budget infeasible, 130 interrupted.
        """,
        subcommands: [Chat.self, Generate.self, Serve.self, Prune.self, Eval.self, Bench.self, Info.self, Tokenize.self, Quantize.self]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if let code = ExitCode.forDomainError(error) {
                FileHandle.standardError.write(Data("llmrun: error: \(error)\n".utf8))
                Foundation.exit(code)
            }
            exit(withError: error)
        }
    }
}
