import Foundation
import XCTest
import TestSupport

/// Perplexity against llama.cpp's figures in ../shared/reference/README.md (llama-perplexity,
/// -c 512, eval-wiki.txt): within 1%.
final class CLIPerplexityTests: XCTestCase {
    private func perplexity(_ arguments: [String]) throws -> Double {
        let r = try CLI.run(["eval", "ppl", "-f", Fixtures.shared + "/data/eval-wiki.txt", "-c", "512", "--json"] + arguments)
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return try XCTUnwrap(object?["perplexity"] as? Double)
    }

    func testDefaultModelMatchesLlamaCpp() throws {
        _ = try CLI.requireDefaultModel()
        let ppl = try perplexity(["--chunks", "20"])
        XCTAssertEqual(ppl, 17.6897, accuracy: 17.6897 * 0.01)
    }

    func testQ8_0RequantizationMatchesLlamaCpp() throws {
        _ = try CLI.requireDefaultModel()
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let q8 = dir.file("q8.gguf")
        let q = try CLI.run(["quantize", "-o", q8, "--type", "q8_0"])
        XCTAssertEqual(q.status, 0, q.stderr)
        let ppl = try perplexity(["-m", q8, "--chunks", "20"])
        XCTAssertEqual(ppl, 17.7437, accuracy: 17.7437 * 0.01)
    }
}
