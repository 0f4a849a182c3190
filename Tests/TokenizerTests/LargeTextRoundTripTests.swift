import Foundation
import Tokenizers
import XCTest

/// The whole 1.7 MB evaluation text through each tokenizer and back: every byte must survive.
/// (Tokenizer speed is a benchmark's business, not a test's; `llmrun tokenize` on the file
/// with `time` measures it.)
final class LargeTextRoundTripTests: XCTestCase {
    /// `cleansSpaces`: the vocabulary asks decoding to drop spaces before punctuation and
    /// contractions (llama.cpp's clean-up for llama-bpe), so only spaces may go missing.
    private func roundTrip(_ name: String, _ t: any Tokenizer, _ text: String, cleansSpaces: Bool = false) {
        let ids = t.encode(text, parseSpecial: false)
        XCTAssertGreaterThan(ids.count, text.utf8.count / 10, name)
        XCTAssertLessThan(ids.count, text.utf8.count, name)
        var back = t.decodeBytes(ids), original = Array(text.utf8)
        if cleansSpaces {
            XCTAssertLessThan(back.count, original.count, "\(name) cleans up spaces")
            back.removeAll { $0 == 0x20 }
            original.removeAll { $0 == 0x20 }
        }
        if back != original {
            let firstDifference = zip(back, original).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(back.count, original.count)
            XCTFail("\(name): decoded text differs from byte \(firstDifference) (\(back.count) bytes back for \(text.utf8.count))")
        }
    }

    func testEvalTextSurvivesEncodeAndDecode() throws {
        let path = TestResources.evalText.path
        try TestResources.requireFile(path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        roundTrip("smollm2", try TestResources.smolLM2(), text)
        roundTrip("qwen2", try TestResources.vocabTokenizer("qwen2"), text)
        roundTrip("llama-bpe", try TestResources.vocabTokenizer("llama-bpe"), text, cleansSpaces: true)
        roundTrip("llama-spm", try TestResources.vocabTokenizer("llama-spm"), text)
    }
}
