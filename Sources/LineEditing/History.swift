import Foundation

/// Past messages, newest last, for Up/Down and Ctrl-R. Kept in a file, one JSON string a line so a
/// multi-line message stays one entry; a file that cannot be read or written only means no history.
public final class History {
    public private(set) var entries: [String] = []
    public let limit: Int
    private let file: String?

    public init(file: String? = nil, limit: Int = 1000) {
        self.file = file
        self.limit = limit
        if let file, let data = FileManager.default.contents(atPath: file) {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                if let entry = try? JSONDecoder().decode(String.self, from: Data(line.utf8)) { entries.append(entry) }
            }
            entries = Array(entries.suffix(limit))
        }
    }

    /// The default place: $XDG_STATE_HOME/llmrun/history, else ~/.local/state/llmrun/history.
    public static var defaultFile: String? {
        let env = ProcessInfo.processInfo.environment
        if let state = env["XDG_STATE_HOME"], !state.isEmpty { return state + "/llmrun/history" }
        if let home = env["HOME"], !home.isEmpty { return home + "/.local/state/llmrun/history" }
        return nil
    }

    public func add(_ entry: String) {
        guard !entry.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, entries.last != entry else { return }
        entries.append(entry)
        if entries.count > limit { entries.removeFirst(entries.count - limit) }
        save()
    }

    /// The newest entry before `index` (exclusive) that contains `query`, for Ctrl-R.
    public func search(_ query: String, before index: Int) -> Int? {
        guard !query.isEmpty else { return nil }
        var i = min(index, entries.count) - 1
        while i >= 0 {
            if entries[i].contains(query) { return i }
            i -= 1
        }
        return nil
    }

    private func save() {
        guard let file else { return }
        let directory = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var text = ""
        for entry in entries {
            if let data = try? JSONEncoder().encode(entry) { text += String(decoding: data, as: UTF8.self) + "\n" }
        }
        // Written beside and renamed, so a crash never leaves half a history.
        let temporary = file + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: 0o600]) else { return }
        if rename(temporary, file) != 0 { unlink(temporary) }
    }
}
