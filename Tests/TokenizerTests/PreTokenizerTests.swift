import Foundation
import Tokenizers
import XCTest

/// Spot checks of the pre-tokenizer regex semantics through the tokenizers (decoded pieces).
final class PreTokenizerTests: XCTestCase {
    private func pieces(_ t: any Tokenizer, _ text: String) -> [String] {
        t.encode(text, parseSpecial: false).map { t.decode([$0]) }
    }

    func testSmolLMSplitsEveryDigit() throws {
        let t = try TestResources.smolLM2()
        XCTAssertEqual(pieces(t, "12345"), ["1", "2", "3", "4", "5"])
        XCTAssertEqual(pieces(t, "ied 4 months"), ["ied", " ", "4", " months"])
    }

    func testLlama3GroupsDigitsByThree() throws {
        let t = try TestResources.vocabTokenizer("llama-bpe")
        XCTAssertEqual(pieces(t, "1234567"), ["123", "456", "7"])
    }

    func testQwen2SingleDigitsAndNewlines() throws {
        let t = try TestResources.vocabTokenizer("qwen2")
        XCTAssertEqual(pieces(t, "123"), ["1", "2", "3"])
        XCTAssertEqual(t.encode("a\n\n  b", parseSpecial: false).count, t.encode("a", parseSpecial: false).count
            + t.encode("\n\n", parseSpecial: false).count + t.encode("  b", parseSpecial: false).count)
    }

    func testEmptyAndWhitespaceOnly() throws {
        for name in ["llama-spm", "qwen2", "gpt-2", "llama-bpe"] {
            let t = try TestResources.vocabTokenizer(name)
            XCTAssertEqual(t.encode("", parseSpecial: true), [], name)
            XCTAssertEqual(t.decode(t.encode("   ", parseSpecial: false)), "   ", name)
        }
    }

    func testPreTokenizerNames() {
        XCTAssertEqual(PreTokenizerKind.forGGUFName("smollm"), .smollm)
        XCTAssertEqual(PreTokenizerKind.forGGUFName("llama-bpe"), .llama3)
        XCTAssertEqual(PreTokenizerKind.forGGUFName("qwen2"), .qwen2)
        XCTAssertEqual(PreTokenizerKind.forGGUFName("gpt-2"), .gpt2)
        XCTAssertEqual(PreTokenizerKind.forGGUFName(nil), .default)
        XCTAssertEqual(PreTokenizerKind.forGGUFName("deepseek-llm"), .deepseekLLM)
        XCTAssertNil(PreTokenizerKind.forGGUFName("no-such-pre"))
    }
}
