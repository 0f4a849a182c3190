import Foundation
import Tokenizers
import XCTest

final class SpecialTokenTests: XCTestCase {
    func testParseSpecialOnAndOff() throws {
        let t = try TestResources.smolLM2()
        let text = "<|im_start|>user\nHi<|im_end|>"
        let on = t.encode(text, parseSpecial: true)
        XCTAssertEqual(on.first, 1)
        XCTAssertEqual(on.last, 2)
        let off = t.encode(text, parseSpecial: false)
        XCTAssertFalse(off.contains(1))
        XCTAssertFalse(off.contains(2))
        XCTAssertEqual(t.decode(off), text)  // written out as plain text
        XCTAssertEqual(t.decode(on), "user\nHi")  // control tokens hidden
        XCTAssertEqual(t.decode(on, renderSpecial: true), text)
    }

    func testLongestSpecialTokenWins() throws {
        let t = try TestResources.smolLM2()
        // "<reponame>" (4) vs "<repo_name>" (3): each matches only itself
        XCTAssertEqual(t.encode("<repo_name><reponame>", parseSpecial: true), [3, 4])
    }

    func testUserDefinedTokensAlwaysMatch() throws {
        // llama.cpp matches user-defined tokens even without special parsing.
        let t = try TestResources.vocabTokenizer("qwen2")
        XCTAssertEqual(t.encode("a[PAD151650]b", parseSpecial: false).dropFirst().first, 151650)
        XCTAssertFalse(t.encode("<|im_start|>", parseSpecial: false).contains(151644))
        XCTAssertEqual(t.encode("<|im_start|>", parseSpecial: true), [151644])
    }

    func testSentencePieceSpecialsAndSpacePrefix() throws {
        let t = try TestResources.vocabTokenizer("llama-spm")
        // text after a special token gets the dummy-prefix space again
        XCTAssertEqual(t.encode("Hello</s>Hello", parseSpecial: true), [15043, 2, 15043])
        XCTAssertNotEqual(t.encode("Hello</s>Hello", parseSpecial: false), [15043, 2, 15043])
    }

    func testPhi3SpecialTokensStripFollowingWhitespace() throws {
        // llama.cpp gives Phi-3's special tokens RSTRIP (except <unk>, <s>, <|endoftext|>).
        let t = try TestResources.vocabTokenizer("phi-3")
        XCTAssertEqual(t.encode("<|user|>\nHello", parseSpecial: true), [32010, 15043])
        XCTAssertEqual(t.encode("<|endoftext|>\nHello", parseSpecial: true).first, 32000)
        XCTAssertNotEqual(t.encode("<|endoftext|>\nHello", parseSpecial: true), [32000, 15043])
    }

    func testEndOfGenerationAndBOSDefaults() throws {
        let smol = try TestResources.smolLM2()
        XCTAssertEqual(smol.eosToken, 2)
        XCTAssertEqual(smol.bosToken, 1)
        XCTAssertFalse(smol.addsBOS)  // add_bos_token = false in the file
        XCTAssertTrue(smol.endOfGenerationTokens.isSuperset(of: [0, 2]))  // <|endoftext|>, <|im_end|>
        XCTAssertFalse(smol.endOfGenerationTokens.contains(1))

        let l3 = try TestResources.vocabTokenizer("llama-bpe")
        XCTAssertTrue(l3.addsBOS)  // llama.cpp's default for Llama-3 vocabularies
        XCTAssertEqual(l3.bosToken, 128000)
        XCTAssertTrue(l3.endOfGenerationTokens.isSuperset(of: [128001, 128009]))  // <|end_of_text|>, <|eot_id|>

        let q = try TestResources.vocabTokenizer("qwen2")
        XCTAssertFalse(q.addsBOS)
        XCTAssertTrue(q.endOfGenerationTokens.isSuperset(of: [151643, 151645]))  // <|endoftext|>, <|im_end|>

        let spm = try TestResources.vocabTokenizer("llama-spm")
        XCTAssertTrue(spm.addsBOS)
        XCTAssertEqual(spm.endOfGenerationTokens, [2])
        XCTAssertEqual(spm.encodePrompt("Hello", parseSpecial: false), [1, 15043])

        let phi = try TestResources.vocabTokenizer("phi-3")
        XCTAssertTrue(phi.endOfGenerationTokens.isSuperset(of: [32000, 32007]))  // eos <|endoftext|>, <|end|>
    }

    func testControlLookingTokensAreSpecial() throws {
        // Qwen's vocabulary stores "</s>" as a normal token; llama.cpp makes it a control token that
        // ends generation (its text is on the end-of-generation list), so it is matched whole.
        let q = try TestResources.vocabTokenizer("qwen2")
        XCTAssertTrue(q.endOfGenerationTokens.contains(128247))
        XCTAssertEqual(q.encode("a</s>b", parseSpecial: true), [64, 128247, 65])
        XCTAssertEqual(q.encode("a</s>b", parseSpecial: false), [64, 522, 82, 51407])  // llama-tokenize --no-parse-special
    }

    func testVocabularyLookups() throws {
        let t = try TestResources.smolLM2()
        XCTAssertEqual(t.vocabularySize, 49152)
        XCTAssertEqual(t.tokenText(1), "<|im_start|>")
        XCTAssertEqual(t.tokenID(for: "<|im_start|>"), 1)
        XCTAssertEqual(t.tokenText(198), "Ċ")
        XCTAssertEqual(t.pieceBytes(198, renderSpecial: false), [0x0A])
        XCTAssertNil(t.tokenID(for: "no such token at all"))
        XCTAssertEqual(t.tokenText(-1), "")
        XCTAssertEqual(t.decode([-5, 99_999_999, 19556]), "Hello")  // out-of-range ids are skipped
    }

    func testLoaderErrorsAreActionable() throws {
        let e = TokenizerError.unsupportedModel(path: "m.gguf", model: "t5")
        XCTAssertTrue(e.description.contains("'t5'"))
        XCTAssertTrue(e.description.contains("gpt2"))
    }
}
