import ArgumentParser
import Foundation
import LLMRuntime
import Tokenizers
import LineEditing

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk with a model, using the chat template in its file.",
        discussion: """
        On a terminal: a conversation. Type a message and Enter. The line edits as in a shell \
        (arrows, Home/End, Ctrl-A/E/K/U/W), Up/Down recall earlier messages and Ctrl-R searches \
        them (kept in ~/.local/state/llmrun/history); a paste keeps its line breaks; a message \
        that starts with \"\"\" goes on over several lines until one ends with \"\"\". \
        /help lists the commands (/reset, /save FILE, /set temp 0.3, /show, /exit); Ctrl-C \
        stops an answer, Ctrl-D leaves. When the context fills up, the oldest messages are \
        dropped, and llmrun says so; an answer cut off by -n ends with […].

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
    @Option(name: [.customShort("n"), .customLong("n-predict")], parsing: .unconditional, help: "Most tokens per answer (-1: until the model stops).")
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
        // A conversation on a terminal has no single object to print.
        if json && oneShot == nil {
            throw CLIError.usage("--json answers one message: pass it with -p, or pipe it on standard input")
        }
        if let oneShot, oneShot.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw CLIError.usage("the message is empty")
        }

        let model = try loadModel(modelOptions, threads: threadOptions.count, plan: planOptions)
        let template = try resolveTemplate(model)
        let conversation = try ChatSession(model: model, template: template, system: system,
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
                let out = GenerateJSON(prompt: nil, text: answer, promptTokens: result.promptTokens,
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
        Terminal.status("llmrun chat · \(conversation.model.config.name ?? conversation.model.path) · /help for commands, /exit or Ctrl-D to leave, Ctrl-C stops an answer")
        // The prompt and the line being edited go to the terminal even when stdout is a file.
        let editor = LineEditor(output: Terminal.stdoutIsTTY ? STDOUT_FILENO : STDERR_FILENO,
                                history: History(file: History.defaultFile))
        editor.shouldStop = { Terminal.interrupted }
        var sampling = self.sampling
        var count = self.count
        while true {
            let line: String
            switch editor.readLine(prompt: ">>> ", continuation: "... ", isComplete: MultilineMessage.isComplete) {
            case .line(let text): line = text
            case .interrupted:
                _ = Terminal.takeInterrupt()
                Terminal.status("(use /exit or Ctrl-D to leave)")
                continue
            case .endOfInput:
                return
            }
            if let command = ChatCommand(line: line) {
                switch command {
                case .exit: return
                case .help: Terminal.status(ChatCommand.helpText)
                case .reset:
                    conversation.reset()
                    Terminal.status("(conversation cleared)")
                case .show:
                    Terminal.status("temp \(sampling.temperature) · top-k \(sampling.topK) · top-p \(sampling.topP) · min-p \(sampling.minP) · repeat-penalty \(sampling.repeatPenalty) · seed \(sampling.seed.map(String.init) ?? "random") · n \(count) · system \(conversation.system.map { "\"\($0)\"" } ?? "none")")
                case .set(let setting, let value):
                    var system = conversation.system
                    if let problem = setting.apply(value, to: &sampling, count: &count, system: &system) {
                        Terminal.status("(\(problem))")
                    } else {
                        conversation.system = system
                        Terminal.status("(\(setting.rawValue) = \(value))")
                    }
                case .save(let path):
                    do {
                        try saveTranscript(conversation, to: path)
                        Terminal.status("(saved \(conversation.turns.count) messages to \(path))")
                    } catch {
                        Terminal.status("(cannot save: \(error))")
                    }
                case .unknown(let message): Terminal.status("(\(message))")
                }
                continue
            }
            let message = MultilineMessage.body(line)
            if message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { continue }
            _ = Terminal.takeInterrupt()
            do {
                let result = try conversation.respond(to: message, maxTokens: count >= 0 ? count : nil, parameters: sampling.parameters,
                                                      stops: stops, isCancelled: { Terminal.interrupted }) { Terminal.write($0) }
                if result.stopReason == .length && count >= 0 {
                    // Cut off by -n: say so, or the half sentence reads like the whole answer.
                    Terminal.write(Terminal.stdoutIsTTY ? " \u{1B}[2m[…]\u{1B}[0m" : " […]")
                }
                Terminal.write("\n")
                if conversation.droppedTurns > 0 {
                    Terminal.status("(the context is full: the \(conversation.droppedTurns) oldest messages were dropped)")
                }
                switch result.stopReason {
                case .interrupted:
                    _ = Terminal.takeInterrupt()
                    Terminal.status("(stopped)")
                case .contextFull:
                    Terminal.status("(the context is full: older messages will be dropped next turn; /reset starts afresh)")
                case .length where count >= 0:
                    Terminal.status("(cut off at \(count) tokens: /set n -1 lets answers run to their end)")
                default: break
                }
            } catch {
                Terminal.status("error: \(error)")
            }
        }
    }

    private func saveTranscript(_ conversation: ChatSession, to path: String) throws {
        var messages: [ChatTranscript.Message] = []
        if let system = conversation.system { messages.append(.init(role: "system", content: system)) }
        messages += conversation.turns.map { .init(role: $0.role, content: $0.content) }
        let transcript = ChatTranscript(model: conversation.model.config.name ?? conversation.model.path, messages: messages)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(transcript)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
