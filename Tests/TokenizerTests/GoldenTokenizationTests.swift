import Foundation
import GGUF
import Tokenizers
import XCTest

/// Token ids must equal llama.cpp's for every reference string.
final class GoldenTokenizationTests: XCTestCase {
    private func check(tokenizer: any Tokenizer, inp: String, out: String, name: String) throws {
        let cases = try TestResources.goldenCases(inp: inp, out: out)
        XCTAssertFalse(cases.isEmpty, "\(name): no cases read")
        var passed = 0
        for (i, (text, expected)) in cases.enumerated() {
            let got = tokenizer.encode(text, parseSpecial: true)
            if got == expected {
                passed += 1
            } else {
                XCTFail("\(name) case \(i) \(String(reflecting: text)):\n expected \(expected)\n got      \(got)")
            }
        }
        print("[golden] \(name): \(passed)/\(cases.count) match")
    }

    private func checkVocab(_ name: String) throws {
        let t = try TestResources.vocabTokenizer(name)
        let base = TestResources.vocabDir.appendingPathComponent("ggml-vocab-\(name).gguf").path
        try check(tokenizer: t, inp: base + ".inp", out: base + ".out", name: name)
    }

    func testLlamaSPM() throws { try checkVocab("llama-spm") }
    func testPhi3() throws { try checkVocab("phi-3") }
    func testQwen2() throws { try checkVocab("qwen2") }
    func testGPT2() throws { try checkVocab("gpt-2") }
    func testLlamaBPE() throws { try checkVocab("llama-bpe") }

    func testSmolLM2() throws {
        let t = try TestResources.smolLM2()
        let base = TestResources.referenceVocabDir.appendingPathComponent("smollm2-135m").path
        try check(tokenizer: t, inp: base + ".inp", out: base + ".out", name: "smollm2-135m")
    }
}
