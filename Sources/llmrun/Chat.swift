import ArgumentParser
import Foundation
import LLMRuntime
import Tokenizers

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk with a model, using the chat template in its file.",
        discussion: """
        On a terminal: a conversation. Type a message and Enter; /reset forgets the \
        conversation, /exit (or Ctrl-D) leaves, Ctrl-C stops an answer. When the context \
        fills up, the oldest turns are dropped.

        Not on a terminal (a pipe, a script): standard input is read as one message, the \
        answer is printed, and llmrun exits.

          llmrun chat
          llmrun chat --system "You are a terse assistant." --temp 0.3
          echo "What is the capital of France?" | llmrun chat
          llmrun chat -p "Write a haiku about autumn" --json
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var planOptions: PrunePlanOption
    @OptionGroup var sampling: SamplingOptions

    @Option(name: [.customShort("p"), .customLong("prompt")], help: "Ask this one message, answer, and exit.")
    var prompt: String?
    @Option(help: "System message.")
    var system: String?
    @Option(name: .customLong("chat-template"), help: "Template to use instead of the file's: \(ChatTemplateKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var chatTemplate: String?
    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context length (default: the model's, at most 4096).")
    var context: Int?
    @Option(name: [.customShort("n"), .customLong("n-predict")], help: "Most tokens per answer (-1: until the model stops).")
    var count: Int = -1
    @Option(name: .customLong("stop"), help: ArgumentHelp("End an answer when it contains this string, which is not printed (repeatable).", valueName: "text"))
    var stops: [String] = []
    @Flag(help: "One-shot mode only: print a JSON object with the answer and timings.")
    var json = false

    func validate() throws {
        if let chatTemplate, ChatTemplateKind(rawValue: chatTemplate) == nil {
            throw ValidationError("unknown chat template '\(chatTemplate)'; known: \(ChatTemplateKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let context, context < 16 { throw ValidationError("-c must be at least 16") }
        if count < -1 { throw ValidationError("-n must be -1 or more") }
    }

    func run() throws {
        let oneShot: String?
        if let prompt { oneShot = prompt }
        else if !Terminal.stdinIsTTY {
            oneShot = try Terminal.readAllInput(what: "the message").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        else { oneShot = nil }
        if let oneShot, oneShot.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw CLIError.usage("the message is empty")
        }

        let model = try loadModel(modelOptions, threads: threadOptions.count, plan: planOptions)
        let template = try resolveTemplate(model)
        let conversation = ChatSession(model: model, template: template, system: system,
                                       contextLength: context ?? min(model.config.contextLength, 4096),
                                       answerReserve: count >= 0 ? count : 256)
        Terminal.catchInterrupts()

        if let oneShot {
            var answer = ""
            let result = try conversation.respond(to: oneShot, maxTokens: count >= 0 ? count : nil, parameters: sampling.parameters,
                                                  stops: stops, isCancelled: { Terminal.interrupted }) { piece in
                if json { answer += piece } else { Terminal.write(piece) }
            }
            if json {
                let out = GenerateJSON(prompt: oneShot, text: answer, promptTokens: result.promptTokens,
                                       generatedTokens: result.generated, stopReason: result.stopReason.rawValue,
                                       stopString: result.stopString,
                                       loadMs: model.loadSeconds * 1000, promptMs: result.promptSeconds * 1000,
                                       generationMs: result.generationSeconds * 1000,
                                       promptTokensPerSecond: result.promptTokensPerSecond,
                                       generationTokensPerSecond: result.generationTokensPerSecond)
                try printJSON(out, pretty: false)
            } else {
                Terminal.write("\n")
            }
            if result.stopReason == .interrupted { throw CLIError.interrupted }
            return
        }
        try interactive(conversation)
    }

    private func resolveTemplate(_ model: LanguageModel) throws -> ChatTemplate {
        let fromFile = ChatTemplate(file: model.file)
        if let chatTemplate, let kind = ChatTemplateKind(rawValue: chatTemplate) {
            return fromFile?.kind == kind ? fromFile! : ChatTemplate(kind: kind)
        }
        if model.file["tokenizer.chat_template"]?.stringValue != nil {
            if let fromFile { return fromFile }
            throw CLIError.usage("the model's chat template is not one llmrun recognises; choose one with --chat-template (\(ChatTemplateKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        throw CLIError.usage("the model has no chat template; choose one with --chat-template (\(ChatTemplateKind.allCases.map(\.rawValue).joined(separator: ", "))), or use `llmrun generate` for raw completion")
    }

    private func interactive(_ conversation: ChatSession) throws {
        Terminal.status("llmrun chat · \(conversation.model.config.name ?? conversation.model.path) · /reset, /exit or Ctrl-D to leave, Ctrl-C stops an answer")
        while true {
            Terminal.write("\u{1B}[1m> \u{1B}[0m")
            let line: String
            switch Terminal.readLine() {
            case .line(let text): line = text
            case .interrupted:
                Terminal.write("\n")
                Terminal.status("(use /exit or Ctrl-D to leave)")
                continue
            case .endOfInput:
                Terminal.write("\n")
                return
            }
            let message = line.trimmingCharacters(in: .whitespaces)
            if message.isEmpty { continue }
            switch message {
            case "/exit", "/quit": return
            case "/reset":
                conversation.reset()
                Terminal.status("(conversation cleared)")
                continue
            case "/help":
                Terminal.status("/reset forgets the conversation · /exit leaves · Ctrl-C stops an answer · Ctrl-D leaves")
                continue
            default: break
            }
            _ = Terminal.takeInterrupt()
            do {
                let result = try conversation.respond(to: line, maxTokens: count >= 0 ? count : nil, parameters: sampling.parameters,
                                                      stops: stops, isCancelled: { Terminal.interrupted }) { Terminal.write($0) }
                Terminal.write("\n")
                if result.stopReason == .interrupted {
                    _ = Terminal.takeInterrupt()
                    Terminal.status("(stopped)")
                } else if result.stopReason == .contextFull {
                    Terminal.status("(the context is full: older turns will be dropped)")
                }
            } catch {
                Terminal.status("error: \(error)")
            }
        }
    }
}
