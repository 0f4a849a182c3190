import Foundation
import GGUF
import Tokenizers
import XCTest

final class SentencePieceModelTests: XCTestCase {
    private func writeModel(_ t: SentencePieceTokenizer) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(getpid())-\(UUID().uuidString).model")
        try Data(t.serializedModelProto()).write(to: url)
        return url.path
    }

    /// The default path cuts long text after newlines for speed; a model file loaded through
    /// `sentencePieceModel:` is encoded in one call. Both must give the same ids.
    func testChunkedEncodingEqualsWholeText() throws {
        for name in ["llama-spm", "phi-3"] {
            let gguf = try TestResources.openGGUF(TestResources.vocabDir.appendingPathComponent("ggml-vocab-\(name).gguf").path)
            let chunked = try XCTUnwrap(try TokenizerLoader.load(from: gguf) as? SentencePieceTokenizer)
            let modelPath = try writeModel(chunked)
            defer { try? FileManager.default.removeItem(atPath: modelPath) }
            let whole = try TokenizerLoader.load(from: gguf, sentencePieceModel: modelPath)
            try TestResources.requireFile(TestResources.evalText.path)
            let text = String(try String(contentsOfFile: TestResources.evalText.path, encoding: .utf8).prefix(200_000))
            let a = chunked.encode(text, parseSpecial: true)
            let b = whole.encode(text, parseSpecial: true)
            XCTAssertEqual(a.count, b.count, name)
            XCTAssertTrue(a == b, "\(name): chunked and whole-text ids differ (first at \(zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1))")
            XCTAssertEqual(whole.encode(" Hello\n\nworld", parseSpecial: false), chunked.encode(" Hello\n\nworld", parseSpecial: false))
        }
    }

    func testSentencePiecesOwnDecodeAgrees() throws {
        let t = try XCTUnwrap(try TestResources.vocabTokenizer("llama-spm") as? SentencePieceTokenizer)
        let text = "Hello world, ünïcode 🚀 and\nnewlines"
        let ids = t.encode(text, parseSpecial: false)
        XCTAssertEqual(try t.sentencePieceDecode(ids), text)
        XCTAssertEqual(t.decode(ids), text)
    }

    func testBadModelFileIsReported() throws {
        let gguf = try TestResources.openGGUF(TestResources.vocabDir.appendingPathComponent("ggml-vocab-llama-spm.gguf").path)
        XCTAssertThrowsError(try TokenizerLoader.load(from: gguf, sentencePieceModel: "/nonexistent/tokenizer.model")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/tokenizer.model"), "\(error)")
        }
    }
}
