import Foundation
import XCTest
import TestSupport

/// Every --json output uses snake_case keys (dictionary keys that are data, such as tensor type
/// names, are exempt), on a tiny model where the command allows it.
final class CLIJSONStyleTests: XCTestCase {
    /// Objects whose keys are data, not field names.
    private let dataMaps: Set<String> = ["tensor_types", "conversions", "interleaved"]

    private func badKeys(_ value: Any, at path: String = "") -> [String] {
        if let object = value as? [String: Any] {
            return object.flatMap { key, child -> [String] in
                let here = path + "." + key
                let ok = key.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil
                return (ok ? [] : [here]) + (dataMaps.contains(key) ? [] : badKeys(child, at: here))
            }
        }
        if let array = value as? [Any] { return array.flatMap { badKeys($0, at: path + "[]") } }
        return []
    }

    private func check(_ arguments: [String], stdin: String? = nil, lines: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLI.run(arguments, stdin: stdin)
        XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)", file: file, line: line)
        let texts = lines ? r.stdout.split(separator: "\n").map(String.init) : [r.stdout]
        XCTAssertFalse(texts.allSatisfy { $0.isEmpty }, "\(arguments) printed nothing", file: file, line: line)
        for text in texts {
            let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
            XCTAssertEqual(badKeys(value), [], "\(arguments)", file: file, line: line)
        }
    }

    func testEveryJSONOutputIsSnakeCase() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let t = TinyModel()
        let tiny = try t.write(to: dir.file("tiny.gguf"))
        let text = dir.file("text.txt")
        try String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 40).write(toFile: text, atomically: true, encoding: .utf8)

        try check(["info", "-m", tiny, "--json"])
        try check(["tokenize", "-m", tiny, "-p", "the fox", "--json"])
        try check(["generate", "-m", tiny, "-p", "the", "-n", "2", "--temp", "0", "--json"])
        try check(["eval", "ppl", "-m", tiny, "-f", text, "-c", "32", "--chunks", "1", "--json"])
        try check(["bench", "-m", tiny, "-p", "4", "-n", "2", "-t", "1", "-r", "1", "-o", "json"])
        try check(["bench", "-m", tiny, "-p", "4", "-n", "0", "-t", "1", "-r", "1", "-o", "jsonl"], lines: true)
        try check(["quantize", "-m", tiny, "-o", dir.file("q8.gguf"), "--type", "q8_0", "--json"])
        try check(["prune", "-m", tiny, "--ratio", "0.2", "--dry-run", "--json"])
        try check(["list", "--json"])

        _ = try CLI.requireDefaultModel()
        let log = dir.file("items.jsonl")
        try check(["eval", "mc", "-f", Fixtures.data + "/mc/piqa_validation.jsonl", "--limit", "2", "--json", "--log-items", log])
        for line in try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n") {
            XCTAssertEqual(badKeys(try JSONSerialization.jsonObject(with: Data(line.utf8))), [], "--log-items")
        }
        try check(["chat", "-n", "2", "--temp", "0", "--json"], stdin: "Hi\n")
    }
}
