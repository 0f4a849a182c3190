import Foundation

/// The slash commands of an interactive chat. Parsing is separate from acting on them so the
/// help text and the parser cannot drift apart.
enum ChatCommand: Equatable {
    case help, reset, exit, show
    case save(path: String)
    case set(setting: ChatSetting, value: String)
    case unknown(String)

    static let helpText = """
    /help                 this list
    /reset                forget the conversation (also /clear)
    /save FILE            write the conversation to FILE as JSON
    /set NAME VALUE       change a setting: \(ChatSetting.allCases.map(\.rawValue).joined(separator: ", "))
    /show                 the current settings
    /exit                 leave (also /quit, /bye, or Ctrl-D)
    \"\"\"                   start a message of several lines; end it with \"\"\"
    Up/Down recall earlier messages, Ctrl-R searches them; Ctrl-C stops an answer.
    """

    /// nil when the line is a message, not a command.
    init?(line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("/"), !trimmed.contains("\n") else { return nil }
        let parts = trimmed.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).map(String.init)
        switch parts[0] {
        case "/help", "/?": self = .help
        case "/reset", "/clear": self = .reset
        case "/exit", "/quit", "/bye": self = .exit
        case "/show": self = .show
        case "/save":
            guard parts.count >= 2 else { self = .unknown("/save needs a file name: /save chat.json"); return }
            self = .save(path: parts.dropFirst().joined(separator: " "))
        case "/set":
            guard parts.count == 3, let setting = ChatSetting(rawValue: parts[1]) else {
                self = .unknown("usage: /set NAME VALUE, NAME one of \(ChatSetting.allCases.map(\.rawValue).joined(separator: ", "))")
                return
            }
            self = .set(setting: setting, value: parts[2])
        default:
            self = .unknown("unknown command \(parts[0]); /help lists them")
        }
    }
}

/// What `/set` can change, spelled as the command-line flags are.
enum ChatSetting: String, CaseIterable {
    case temp, topK = "top-k", topP = "top-p", minP = "min-p", repeatPenalty = "repeat-penalty", seed
    case n, system

    /// Applies a value, returning a message for the user when it is not valid.
    func apply(_ value: String, to sampling: inout SamplingOptions, count: inout Int, system: inout String?) -> String? {
        func number(_ range: ClosedRange<Float>) -> Float? {
            guard let v = Float(value), v.isFinite, range.contains(v) else { return nil }
            return v
        }
        switch self {
        case .temp:
            guard let v = number(0...100) else { return "temp takes a number from 0 (greedy) up" }
            sampling.temperature = v
        case .topK:
            guard let v = Int(value), v >= 0 else { return "top-k takes a whole number, 0 for all" }
            sampling.topK = v
        case .topP:
            guard let v = number(0...1) else { return "top-p takes a number from 0 to 1" }
            sampling.topP = v
        case .minP:
            guard let v = number(0...1) else { return "min-p takes a number from 0 to 1" }
            sampling.minP = v
        case .repeatPenalty:
            guard let v = number(0.01...100) else { return "repeat-penalty takes a number above 0 (1 = off)" }
            sampling.repeatPenalty = v
        case .seed:
            guard let v = UInt64(value) else { return "seed takes a whole number from 0" }
            sampling.seed = v
        case .n:
            guard let v = Int(value), v >= -1 else { return "n takes a whole number, -1 for no limit" }
            count = v
        case .system:
            system = value
        }
        return nil
    }
}

/// `/save`: the conversation as a person or a script would want to read it back.
struct ChatTranscript: Encodable {
    struct Message: Encodable { let role: String; let content: String }
    let model: String
    let messages: [Message]
}
