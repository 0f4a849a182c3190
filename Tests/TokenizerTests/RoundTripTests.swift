import Foundation
import Tokenizers
import XCTest

/// decode(encode(s)) == s for every tokenizer.
final class RoundTripTests: XCTestCase {
    /// Texts without spaces before `? ! . , '` (llama.cpp's clean-up of GPT-2 / Llama-3
    /// vocabularies would remove those; tested separately).
    static let texts = [
        "Hello world",
        "Héllo wörld, naïve café; Ångström → façade",
        "emoji 🚀🎉 and 👩‍👩‍👧 family, flags 🇫🇷 and ✅",
        "日本語のテキスト、中文句子。한국어 문장",
        "def add(a, b):\n    return a + b\n\n\tif x == 100:\n\t\tprint(\"ok\")\n",
        " leading space",
        "   three leading spaces and trailing   ",
        "\n\nnewlines first\n\n\nand last\n",
        "Ünïcödé numbers ½ ² ⅷ 12345 3.14159",
        "mixed\r\nline endings\rand\u{00A0}nbsp\u{3000}ideographic space",
        "Привет, мир! Γειά σου Κόσμε",
        "tabs\tand  double  spaces",
        "x",
    ]

    private func roundTrip(_ t: any Tokenizer, _ name: String, texts: [String] = RoundTripTests.texts) {
        for text in texts {
            let ids = t.encode(text, parseSpecial: false)
            let back = t.decode(ids)
            XCTAssertEqual(back, text, "\(name): round trip of \(String(reflecting: text)) via \(ids)")
            // byte-exact too (String == compares canonical equivalence)
            XCTAssertEqual(Array(back.utf8), Array(text.utf8), "\(name): bytes differ for \(String(reflecting: text))")
        }
    }

    func testLlamaSPM() throws { roundTrip(try TestResources.vocabTokenizer("llama-spm"), "llama-spm") }
    func testPhi3() throws { roundTrip(try TestResources.vocabTokenizer("phi-3"), "phi-3") }
    func testQwen2() throws { roundTrip(try TestResources.vocabTokenizer("qwen2"), "qwen2") }
    func testGPT2() throws { roundTrip(try TestResources.vocabTokenizer("gpt-2"), "gpt-2") }
    func testLlamaBPE() throws { roundTrip(try TestResources.vocabTokenizer("llama-bpe"), "llama-bpe") }
    func testSmolLM2() throws { roundTrip(try TestResources.smolLM2(), "smollm2") }

    func testSmolLM2RoundTripsPunctuationSpacing() throws {
        // SmolLM2 (pre "smollm") does not clean up spaces, so anything round-trips.
        roundTrip(try TestResources.smolLM2(), "smollm2", texts: ["a , b . c ' d 's e ?", "Hello , world !"])
    }

    func testCleanUpSpacesLikeLlamaCpp() throws {
        // GPT-2 and Llama-3 vocabularies have llama.cpp's clean_spaces on.
        let t = try TestResources.vocabTokenizer("gpt-2")
        XCTAssertEqual(t.decode(t.encode("Hello , world !", parseSpecial: false)), "Hello, world!")
        XCTAssertEqual(t.decode(t.encode("it ' s", parseSpecial: false)), "it's")
        XCTAssertEqual(t.decode(t.encode("he 's here and they 're", parseSpecial: false)), "he's here and they're")
        XCTAssertEqual(t.decode(t.encode("I 'll go", parseSpecial: false)), "I 'll go")  // 'll is left alone
        let q = try TestResources.vocabTokenizer("qwen2")  // qwen2 has it off
        XCTAssertEqual(q.decode(q.encode("Hello , world !", parseSpecial: false)), "Hello , world !")
    }

    func testSentencePieceLeadingSpaceRule() throws {
        let t = try TestResources.vocabTokenizer("llama-spm")
        // "▁Hello" decodes to "Hello" as the first token, " Hello" after another token.
        let hello = try XCTUnwrap(t.tokenID(for: "▁Hello"))
        XCTAssertEqual(t.decode([hello]), "Hello")
        XCTAssertEqual(t.decode([hello, hello]), "Hello Hello")
        XCTAssertEqual(t.pieceBytes(hello, renderSpecial: false), Array(" Hello".utf8))
        // After BOS (hidden), llama.cpp keeps the space: the strip applies to the first token only.
        XCTAssertEqual(t.decode([1, hello]), " Hello")
        XCTAssertEqual(t.decode([1, hello], renderSpecial: true), "<s> Hello")
    }
}
