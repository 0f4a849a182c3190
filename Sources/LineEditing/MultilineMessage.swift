import Foundation

/// Multi-line input as in ollama: a message that starts with `"""` goes on over several lines
/// (Enter adds a line break) until it ends with `"""`. Pasted text keeps its line breaks anyway.
public enum MultilineMessage {
    public static let fence = "\"\"\""

    /// Whether Enter should send `text` (true) or start a new line in it (false).
    public static func isComplete(_ text: String) -> Bool {
        guard text.hasPrefix(fence) else { return true }
        let body = text.dropFirst(fence.count)
        return body.hasSuffix(fence)
    }

    /// The message without its fences.
    public static func body(_ text: String) -> String {
        guard text.hasPrefix(fence) else { return text }
        var body = text.dropFirst(fence.count)
        if body.hasSuffix(fence) { body = body.dropLast(fence.count) }
        return String(body).trimmingCharacters(in: .newlines)
    }
}
