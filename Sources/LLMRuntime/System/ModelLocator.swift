import Foundation

/// Finds a model from what a user types after -m: a path, a file name, or a short name from
/// Tools/fetch-model's catalogue ("smollm2-135m"), looked up in the folders where users keep
/// models, in order.
public struct ModelLocator: Sendable {
    /// Short names and the files Tools/fetch-model writes for them.
    public static let shortNames: [(name: String, file: String)] = [
        ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        ("qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf"),
        ("qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf"),
        ("gemma3-270m", "gemma-3-270m.Q4_K_M.gguf"),
    ]
    /// The model used when none is named.
    public static let defaultName = "smollm2-135m"

    /// The folders searched, in order.
    public let searchPath: [String]

    public init(searchPath: [String]) {
        var seen = Set<String>()
        self.searchPath = searchPath.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// `$LLMRUN_MODELS` (one folder or several separated by ':'), `~/.local/share/llmrun/models`,
    /// `/usr/local/share/llmrun/models`, `./Models`, then `extra` (the CLI adds the checkout that
    /// holds the executable, so `.build/release/llmrun` finds the repository's Models/).
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment,
                                extra: [String] = []) -> ModelLocator {
        var path: [String] = []
        if let list = environment["LLMRUN_MODELS"] { path += list.split(separator: ":").map(String.init) }
        if let home = environment["HOME"], !home.isEmpty { path.append(home + "/.local/share/llmrun/models") }
        path.append("/usr/local/share/llmrun/models")
        path.append("Models")
        return ModelLocator(searchPath: path + extra)
    }

    /// The file a short name stands for, or nil.
    public static func file(forShortName name: String) -> String? {
        shortNames.first { $0.name == name.lowercased() }?.file
    }

    /// The model file for `spec`. A spec with a '/' is a path and only a path; otherwise an
    /// existing file in the working folder, then the short name's file or `spec` (with or
    /// without ".gguf") in each folder of the search path.
    public func resolve(_ spec: String) throws(ModelLookupError) -> String {
        let fm = FileManager.default
        if spec.contains("/") {
            if fm.fileExists(atPath: spec) { return spec }
            throw .noSuchFile(spec)
        }
        if isFile(spec) { return spec }
        var names = [spec]
        if let file = Self.file(forShortName: spec) { names.insert(file, at: 0) }
        if !spec.hasSuffix(".gguf") { names.append(spec + ".gguf") }
        for dir in searchPath {
            for name in names where isFile(dir + "/" + name) { return dir + "/" + name }
        }
        throw .notFound(spec, searched: searchPath)
    }

    /// One model file found in the search path.
    public struct Entry: Sendable, Equatable {
        /// The short name when it is one of Tools/fetch-model's files, else the file name.
        public var name: String
        public var path: String
        public var size: Int

        public init(name: String, path: String, size: Int) {
            self.name = name
            self.path = path
            self.size = size
        }
    }

    /// Every .gguf file in the search path, folder by folder (a file name met again in a later
    /// folder is shadowed by the first and left out, as resolve would never reach it).
    public func installedModels() -> [Entry] {
        var entries: [Entry] = [], seen = Set<String>()
        for dir in searchPath {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
                .filter { $0.hasSuffix(".gguf") }.sorted { $0.lowercased() < $1.lowercased() }
            for file in files where !seen.contains(file) {
                let path = dir + "/" + file
                // The size of what a link points to (models are often linked in from elsewhere).
                let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
                guard isFile(path), let size = (try? FileManager.default.attributesOfItem(atPath: target)[.size]) as? Int else { continue }
                seen.insert(file)
                let name = Self.shortNames.first { $0.file == file }?.name ?? file
                entries.append(Entry(name: name, path: path, size: size))
            }
        }
        return entries
    }

    private func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}

/// Why a model could not be found; the message says where llmrun looked.
public enum ModelLookupError: Error, CustomStringConvertible, Equatable {
    case noSuchFile(String)
    case notFound(String, searched: [String])

    public var description: String {
        switch self {
        case .noSuchFile(let path):
            return "\(path): no such file"
        case .notFound(let spec, let searched):
            let hint = ModelLocator.file(forShortName: spec) != nil ? "Tools/fetch-model \(spec.lowercased())" : "Tools/fetch-model"
            return "model '\(spec)' not found: no such file here or in \(searched.joined(separator: ", ")) (fetch one with \(hint), or set LLMRUN_MODELS to the folder that holds it)"
        }
    }
}
