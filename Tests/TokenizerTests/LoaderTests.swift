import Foundation
import GGUF
import Tokenizers
import XCTest

/// Loading from small synthetic vocabularies: errors, defaults, and a byte-level BPE end to end.
final class LoaderTests: XCTestCase {
    private func writeGGUF(_ metadata: [(key: String, value: GGUFValue)]) throws -> GGUFFile {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tok-loader-\(getpid())-\(UUID().uuidString).gguf")
        let w = try GGUFWriter(path: url.path, metadata: [(key: "general.architecture", value: .string("llama"))] + metadata, tensors: [])
        try w.finish()
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return try TestResources.openGGUF(url.path)
    }

    private func strings(_ s: [String]) -> GGUFValue { .array(.string, s.map { .string($0) }) }

    /// A tiny GPT-2 style vocabulary: the 256 byte characters plus a few merges.
    private func tinyBPE(pre: String?) throws -> any Tokenizer {
        // byte → mapped character, as GPT-2 stores vocabularies
        var map: [Character] = []
        var n = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                map.append(Character(Unicode.Scalar(UInt32(b))!))
            } else {
                map.append(Character(Unicode.Scalar(UInt32(256 + n))!)); n += 1
            }
        }
        let tokens = map.map(String.init) + ["34", "12", "123", "45", "456", "<|end|>"]
        var types = [GGUFValue](repeating: .int32(1), count: tokens.count)
        types[tokens.count - 1] = .int32(3)
        var md: [(key: String, value: GGUFValue)] = [
            (key: "tokenizer.ggml.model", value: .string("gpt2")),
            (key: "tokenizer.ggml.tokens", value: strings(tokens)),
            (key: "tokenizer.ggml.token_type", value: .array(.int32, types)),
            (key: "tokenizer.ggml.merges", value: strings(["3 4", "1 2", "12 3", "4 5", "45 6"])),
        ]
        if let pre { md.append((key: "tokenizer.ggml.pre", value: .string(pre))) }
        return try TokenizerLoader.load(from: writeGGUF(md))
    }

    func testByteLevelBPEWithDefaultAndGPT2PreTokenizers() throws {
        // gpt-2: "123456" is one word: "3 4" merges first → 12 34 5 6
        let g = try tinyBPE(pre: "gpt-2")
        XCTAssertEqual(g.encode("123456", parseSpecial: false).map { g.tokenText($0) }, ["12", "34", "5", "6"])
        // default: digits are cut in threes first → 123 456
        let d = try tinyBPE(pre: "default")
        XCTAssertEqual(d.encode("123456", parseSpecial: false).map { d.tokenText($0) }, ["123", "456"])
        let none = try tinyBPE(pre: nil)  // no pre key: llama.cpp's default
        XCTAssertEqual(none.encode("123456", parseSpecial: false).map { none.tokenText($0) }, ["123", "456"])
        // llama.cpp's defaults for BPE without special ids: bos = eos = 11; "<|end|>" ends generation
        XCTAssertEqual(d.bosToken, 11)
        XCTAssertFalse(d.addsBOS)
        XCTAssertTrue(d.endOfGenerationTokens.contains(Int32(261)))
        XCTAssertEqual(d.encode("a<|end|>", parseSpecial: true).last, 261)
        XCTAssertEqual(d.decode(d.encode("héllo wörld\n", parseSpecial: false)), "héllo wörld\n")
    }

    func testErrors() throws {
        XCTAssertThrowsError(try TokenizerLoader.load(from: writeGGUF([]))) { e in
            guard case TokenizerError.missingKey(_, let key) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(key, "tokenizer.ggml.model")
        }
        XCTAssertThrowsError(try TokenizerLoader.load(from: writeGGUF([(key: "tokenizer.ggml.model", value: .string("t5"))]))) { e in
            guard case TokenizerError.unsupportedModel(_, "t5") = e else { return XCTFail("\(e)") }
        }
        // an unknown pre-tokenizer loads with the default one and a warning, as in llama.cpp
        let unknown = try XCTUnwrap(try tinyBPE(pre: "made-up-pre") as? ByteLevelBPETokenizer)
        XCTAssertEqual(unknown.preTokenizer, .default)
        XCTAssertEqual(unknown.loadWarnings.count, 1)
        XCTAssertTrue(unknown.loadWarnings[0].contains("made-up-pre"))
        XCTAssertEqual(try XCTUnwrap(try tinyBPE(pre: "gpt-2") as? ByteLevelBPETokenizer).loadWarnings, [])
        XCTAssertThrowsError(try TokenizerLoader.load(from: writeGGUF([(key: "tokenizer.ggml.model", value: .string("gpt2"))]))) { e in
            guard case TokenizerError.missingKey(_, "tokenizer.ggml.tokens") = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try TokenizerLoader.load(path: "/nonexistent/model.gguf")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/model.gguf"), "\(e)")
        }
    }
}
