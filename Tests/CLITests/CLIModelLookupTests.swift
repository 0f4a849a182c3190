import Foundation
import XCTest
import TestSupport

/// -m by short name through $LLMRUN_MODELS, `llmrun list`, and the message when nothing is found.
final class CLIModelLookupTests: XCTestCase {
    func testShortNameListAndNotFound() throws {
        let model = try CLI.requireDefaultModel()
        let dir = TemporaryDirectory("models")
        defer { dir.cleanup() }
        try FileManager.default.createSymbolicLink(atPath: dir.file("SmolLM2-135M-Instruct.Q4_1.gguf"), withDestinationPath: model)
        let env = ["LLMRUN_MODELS": dir.path, "HOME": dir.file("home")]

        let tokens = try CLI.run(["tokenize", "-m", "smollm2-135m", "-p", "Hello world", "--ids"], environment: env)
        XCTAssertEqual(tokens.status, 0, tokens.stderr)
        XCTAssertEqual(tokens.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "[19556, 905]")

        let list = try CLI.run(["list", "--json"], environment: env)
        XCTAssertEqual(list.status, 0, list.stderr)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        let first = try XCTUnwrap(rows.first)
        XCTAssertEqual(first["name"] as? String, "smollm2-135m")
        XCTAssertEqual(first["architecture"] as? String, "llama")
        XCTAssertEqual(first["format"] as? String, "Q4_1")
        XCTAssertEqual(first["size"] as? Int, 98_362_432)
        let table = try CLI.run(["list"], environment: env)
        XCTAssertTrue(table.stdout.hasPrefix("NAME"), table.stdout)

        let missing = try CLI.run(["info", "-m", "no-such-model"], environment: env)
        XCTAssertEqual(missing.status, 66, missing.stderr)
        XCTAssertTrue(missing.stderr.contains(dir.path + ", " + dir.file("home") + "/.local/share/llmrun/models"), missing.stderr)
    }
}
