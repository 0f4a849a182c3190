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

/// Word splits of each pre-tokenizer, against what llama.cpp's regexes give.
final class PreTokenizerSplitTests: XCTestCase {
    func testGPT2() {
        let k = PreTokenizerKind.gpt2
        XCTAssertEqual(k.words(in: "Hello world"), ["Hello", " world"])
        XCTAssertEqual(k.words(in: "I'm   here!!\n\n x"), ["I", "'m", "  ", " here", "!!", "\n\n", " x"])
        XCTAssertEqual(k.words(in: "'S 3.14"), ["'", "S", " 3", ".", "14"])  // contractions are case-sensitive
        XCTAssertEqual(k.words(in: "a  "), ["a", "  "])  // trailing whitespace stays together
        XCTAssertEqual(k.words(in: "\tx"), ["\t", "x"])
    }

    func testSmolLM() {
        XCTAssertEqual(PreTokenizerKind.smollm.words(in: "in 2024, x"), ["in", " ", "2", "0", "2", "4", ",", " x"])
    }

    func testLlama3() {
        let k = PreTokenizerKind.llama3
        XCTAssertEqual(k.words(in: "I'M 1234567 ok"), ["I", "'M", " ", "123", "456", "7", " ok"])
        XCTAssertEqual(k.words(in: "x\n\n  y"), ["x", "\n\n", " ", " y"])
        XCTAssertEqual(k.words(in: "a :)\n\nb"), ["a", " :)\n\n", "b"])
        XCTAssertEqual(k.words(in: "\tfoo(bar)"), ["\tfoo", "(bar", ")"])
    }

    func testQwen2() {
        XCTAssertEqual(PreTokenizerKind.qwen2.words(in: "v1.25"), ["v", "1", ".", "2", "5"])
    }

    func testDefault() {
        // punctuation/symbol runs first, then GPT-2, then numbers, then ASCII digit triples
        let k = PreTokenizerKind.default
        XCTAssertEqual(k.words(in: "1234567"), ["123", "456", "7"])
        XCTAssertEqual(k.words(in: "a+=b"), ["a", "+=", "b"])
        XCTAssertEqual(k.words(in: "hi there"), ["hi", " there"])
    }

    func testDeepSeek() {
        XCTAssertEqual(PreTokenizerKind.deepseekLLM.words(in: "Hello 世界\n123"), ["Hello", " ", "世界", "\n", "123"])
        // "=" is a symbol (Sm), not \p{P}: it stays in the unmatched text between matches
        XCTAssertEqual(PreTokenizerKind.deepseekCoder.words(in: "x = 42;"), ["x", " = ", "4", "2", ";"])
    }

    func testWordsCoverTheText() {
        let text = "Mixed: 日本語, émoji 🚀, code {x: [1, 2]}\r\n\tend  "
        for k in PreTokenizerKind.allCases {
            XCTAssertEqual(k.words(in: text).joined(), text, "\(k)")
            XCTAssertFalse(k.words(in: text).contains(""), "\(k)")
        }
    }
}
