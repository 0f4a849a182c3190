import Foundation
import GGUF
import Tokenizers
import XCTest

final class StreamingDetokenizerTests: XCTestCase {
    /// Streams `ids` one at a time and checks the pieces add up to a one-shot decode, with no
    /// replacement characters from split UTF-8.
    @discardableResult
    private func stream(_ t: any Tokenizer, _ ids: [Int32], file: StaticString = #filePath, line: UInt = #line) -> [String] {
        var s = StreamingDetokenizer(tokenizer: t)
        var chunks: [String] = []
        for id in ids { chunks.append(s.append(id)) }
        chunks.append(s.flush())
        XCTAssertEqual(chunks.joined(), t.decode(ids), file: file, line: line)
        for c in chunks { XCTAssertFalse(c.contains("\u{FFFD}"), "chunk \(String(reflecting: c)) has U+FFFD", file: file, line: line) }
        return chunks
    }

    func testEmojiSplitAcrossByteTokensSPM() throws {
        let t = try TestResources.vocabTokenizer("llama-spm")
        let ids = t.encode("🚀", parseSpecial: false)
        // "▁" then the four byte tokens <0xF0> <0x9F> <0x9A> <0x80>
        XCTAssertEqual(ids, [29871, 243, 162, 157, 131])
        let chunks = stream(t, ids)
        XCTAssertEqual(chunks, ["", "", "", "", "🚀", ""])  // leading space stripped, nothing until complete
    }

    func testEmojiSplitAcrossTokensBPE() throws {
        let t = try TestResources.smolLM2()
        let text = "I like 🦙 and 🚀!"
        let ids = t.encode(text, parseSpecial: false)
        let chunks = stream(t, ids)
        XCTAssertEqual(chunks.joined(), text)
        // some token of the llama emoji must end mid-character: its chunk is held back (empty)
        XCTAssertTrue(chunks.contains(""), "expected a held-back chunk in \(chunks)")
    }

    func testStreamingMatchesDecodeForAllTokenizers() throws {
        for name in ["llama-spm", "phi-3", "qwen2", "gpt-2", "llama-bpe"] {
            let t = try TestResources.vocabTokenizer(name)
            for text in RoundTripTests.texts + ["Hello , world ! it ' s he 's"] {
                stream(t, t.encode(text, parseSpecial: false))
            }
        }
    }

    func testCleanUpRewriteIsHeldBack() throws {
        // GPT-2 cleans " ," → ","; a lone " " token must not be emitted before the "," arrives.
        let t = try TestResources.vocabTokenizer("gpt-2")
        let ids = t.encode("a , b", parseSpecial: false)
        let chunks = stream(t, ids)
        XCTAssertEqual(chunks.joined(), "a, b")
    }

    /// A GPT-2 style vocabulary of the 256 byte tokens only (id = byte), with llama.cpp's space
    /// clean-up on, written to a temporary file.
    private func byteVocabulary() throws -> any Tokenizer {
        var symbols: [String] = []
        var n = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                symbols.append(String(Unicode.Scalar(UInt32(b))!))
            } else {
                symbols.append(String(Unicode.Scalar(UInt32(256 + n))!)); n += 1
            }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(getpid())-\(UUID().uuidString).gguf")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        let w = try GGUFWriter(path: url.path, metadata: [
            (key: "tokenizer.ggml.model", value: .string("gpt2")),
            (key: "tokenizer.ggml.pre", value: .string("gpt-2")),
            (key: "tokenizer.ggml.tokens", value: .array(.string, symbols.map { .string($0) })),
            (key: "tokenizer.ggml.merges", value: .array(.string, [])),
        ], tensors: [])
        try w.finish()
        return try TokenizerLoader.load(path: url.path)
    }

    func testQuoteBetweenSpacesIsHeldBackUntilTheNextCharacter() throws {
        // Found by the tokenizers fuzzer: " ' " cleans up to "'" and " ' ?" to " '?", so the
        // quote streamed after the second space was returned again ("''?") once "?" came.
        let t = try byteVocabulary()
        let ids: [Int32] = Array(" ' ?".utf8).map { Int32($0) }
        XCTAssertEqual(t.decode(ids), " '?")
        XCTAssertEqual(stream(t, ids).joined(), " '?")
        XCTAssertEqual(stream(t, Array(" ' s ' ".utf8).map { Int32($0) }).joined(), t.decode(Array(" ' s ' ".utf8).map { Int32($0) }))
    }

    func testContextTokensShapeButAreNotReturned() throws {
        let t = try TestResources.vocabTokenizer("llama-spm")
        let prompt = t.encode("The capital of France is", parseSpecial: false)
        let continuation = t.encode("The capital of France is Paris.", parseSpecial: false).dropFirst(prompt.count)
        var s = StreamingDetokenizer(tokenizer: t, context: prompt)
        var out = ""
        for id in continuation { out += s.append(id) }
        out += s.flush()
        XCTAssertEqual(out, " Paris.")  // the space before "Paris" is kept after the prompt
        var fresh = StreamingDetokenizer(tokenizer: t)
        var reply = ""
        for id in continuation { reply += fresh.append(id) }
        XCTAssertEqual(reply + fresh.flush(), "Paris.")  // a reply on its own starts without it
    }

    func testControlTokensHiddenUnlessRendered() throws {
        let t = try TestResources.smolLM2()
        let ids = t.encode("Hi<|im_end|>", parseSpecial: true)
        var hidden = StreamingDetokenizer(tokenizer: t)
        var shown = StreamingDetokenizer(tokenizer: t, renderSpecial: true)
        var a = "", b = ""
        for id in ids { a += hidden.append(id); b += shown.append(id) }
        a += hidden.flush(); b += shown.flush()
        XCTAssertEqual(a, "Hi")
        XCTAssertEqual(b, "Hi<|im_end|>")
    }
}
