import Foundation
import Tokenizers
import XCTest

/// Not a timed assertion: prints how long the 1.7 MB evaluation text takes to tokenize
/// (run with `-c release` for representative figures).
final class EncodeSpeedTests: XCTestCase {
    private func time(_ name: String, _ t: any Tokenizer, _ text: String) {
        let start = Date()
        let ids = t.encode(text, parseSpecial: false)
        let seconds = Date().timeIntervalSince(start)
        let dstart = Date()
        let back = t.decodeBytes(ids)
        let dseconds = Date().timeIntervalSince(dstart)
        print(String(format: "[speed] %@: %d bytes → %d tokens, encode %.3f s (%.1f MB/s), decode %.3f s",
                     name, text.utf8.count, ids.count, seconds, Double(text.utf8.count) / seconds / 1e6, dseconds))
        XCTAssertGreaterThan(ids.count, text.utf8.count / 10)
        XCTAssertEqual(back.count > 0, true)
    }

    func testEncodeEvalText() throws {
        let path = TestResources.evalText.path
        try TestResources.requireFile(path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        time("smollm2", try TestResources.smolLM2(), text)
        time("qwen2", try TestResources.vocabTokenizer("qwen2"), text)
        time("llama-bpe", try TestResources.vocabTokenizer("llama-bpe"), text)
        time("llama-spm", try TestResources.vocabTokenizer("llama-spm"), text)
    }
}
