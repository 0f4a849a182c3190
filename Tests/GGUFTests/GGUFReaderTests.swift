import Foundation
import XCTest
@testable import GGUF
import TestSupport

final class GGUFReaderTests: XCTestCase {
    func testDefaultModelHeader() throws {
        let f = try GGUFFile(path: try requireDefaultModel())
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f["general.architecture"]?.stringValue, "llama")
        XCTAssertEqual(f["llama.block_count"]?.intValue, 30)
        XCTAssertEqual(f["llama.embedding_length"]?.intValue, 576)
        XCTAssertEqual(f["tokenizer.ggml.model"]?.stringValue, "gpt2")
        XCTAssertEqual(f["tokenizer.ggml.tokens"]?.arrayValue?.count, 49152)
        XCTAssertEqual(f.tensors.reduce(0) { $0 + $1.elementCount }, 134_515_008)
        let embd = try XCTUnwrap(f.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embd.shape, [576, 49152])
        XCTAssertEqual(embd.type, .q8_0)
        XCTAssertEqual(f.tensor(named: "blk.0.ffn_down.weight")?.type, .q4_1)
    }

    /// Every prefix of the first 2 MB of a real file (each 4 KB boundary, and the first bytes
    /// one by one) must be refused with a GGUFError, never crash.
    func testEveryPrefixOfRealFileIsRefused() throws {
        let model = try requireDefaultModel()
        let source = try FileHandle(forReadingFrom: URL(fileURLWithPath: model))
        let head = source.readData(ofLength: 2 << 20)
        try source.close()
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.file("prefix.gguf")
        var sizes = Array(0...4096)
        sizes += stride(from: 8192, through: head.count, by: 4096)
        var refused = 0
        for size in sizes {
            _ = FileManager.default.createFile(atPath: path, contents: head.prefix(size))
            do {
                _ = try GGUFFile(path: path)
                XCTFail("a \(size)-byte prefix was accepted")
            } catch {
                refused += 1
            }
        }
        XCTAssertEqual(refused, sizes.count)
    }

    // MARK: Crafted files

    private func expectRefusal(_ bytes: [UInt8], mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.file("crafted.gguf")
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            _ = try GGUFFile(path: path)
            XCTFail("crafted file accepted", file: file, line: line)
        } catch {
            let message = "\(error)"
            for w in words {
                XCTAssertTrue(message.contains(w), "message \"\(message)\" should mention \"\(w)\"", file: file, line: line)
            }
        }
    }

    func testBadMagic() {
        var b = CraftedGGUF().bytes()
        b[0] = 0x47; b[1] = 0x47; b[2] = 0x4D; b[3] = 0x4C
        expectRefusal(b, mentioning: ["header.magic"])
    }

    func testHTMLPage() {
        let html = Array("<!DOCTYPE html><html><body>Not found</body></html>\n".utf8)
        expectRefusal(html, mentioning: ["header.magic", "HTML"])
    }

    func testVersion99() {
        var c = CraftedGGUF()
        c.version = 99
        expectRefusal(c.bytes(), mentioning: ["header.version", "99"])
    }

    func testHugeTensorCount() {
        var c = CraftedGGUF()
        c.tensorCountOverride = 1 << 60
        expectRefusal(c.bytes(), mentioning: ["header.tensor_count"])
    }

    func testHugeMetadataCount() {
        var c = CraftedGGUF()
        c.kvCountOverride = UInt64.max
        expectRefusal(c.bytes(), mentioning: ["header.metadata_kv_count"])
    }

    func testStringLengthPastEnd() {
        var c = CraftedGGUF()
        c.stringLengthOverride = 1 << 40
        expectRefusal(c.bytes(), mentioning: ["general.name", "length"])
    }

    func testHugeArrayLength() {
        var c = CraftedGGUF()
        c.arrayLengthOverride = 1 << 62
        expectRefusal(c.bytes(), mentioning: ["test.array", "array length"])
    }

    func testTensorOffsetPastEnd() {
        var c = CraftedGGUF()
        c.tensorOffset = 1 << 20
        expectRefusal(c.bytes(), mentioning: ["tensor 'w'", "data"])
    }

    /// Offsets beyond Int's range (a flipped high bit, found by fuzzing) are refused, not trapped on.
    func testTensorOffsetBeyondIntRange() {
        for offset: UInt64 in [1 << 63, UInt64.max & ~31] {
            var c = CraftedGGUF()
            c.tensorOffset = offset
            expectRefusal(c.bytes(), mentioning: ["tensor 'w'", "data", "\(offset)"])
        }
    }

    func testUnknownTensorType() {
        var c = CraftedGGUF()
        c.tensorType = 99
        expectRefusal(c.bytes(), mentioning: ["tensor 'w' type", "99"])
    }

    func testMisalignedTensorOffset() {
        var c = CraftedGGUF()
        c.tensorOffset = 3
        expectRefusal(c.bytes(), mentioning: ["tensor 'w' offset", "alignment"])
    }

    func testDuplicateTensorNames() {
        var c = CraftedGGUF()
        c.duplicateTensor = true
        expectRefusal(c.bytes(), mentioning: ["tensor 'w'", "unique"])
    }

    func testTooManyDimensions() {
        var c = CraftedGGUF()
        c.dims = [32, 1, 1, 1, 1]
        expectRefusal(c.bytes(), mentioning: ["n_dims", "5"])
    }

    func testBadAlignmentValue() {
        var c = CraftedGGUF()
        c.alignment = 3
        expectRefusal(c.bytes(), mentioning: ["general.alignment"])
    }

    func testCraftedBaselineIsValid() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.file("ok.gguf")
        _ = FileManager.default.createFile(atPath: path, contents: Data(CraftedGGUF().bytes()))
        let f = try GGUFFile(path: path)
        XCTAssertEqual(f.tensors.count, 1)
        XCTAssertEqual(f["general.name"]?.stringValue, "crafted")
        XCTAssertEqual(f["test.array"]?.arrayValue?.count, 3)
    }

    func testMissingFile() {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/model.gguf")) { error in
            guard case GGUFError.fileNotFound = error else { return XCTFail("\(error)") }
        }
    }
}

/// Builds a minimal GGUF (one metadata string, one array, one F32 tensor) with knobs to break it.
struct CraftedGGUF {
    var version: UInt32 = 3
    var tensorCountOverride: UInt64?
    var kvCountOverride: UInt64?
    var stringLengthOverride: UInt64?
    var arrayLengthOverride: UInt64?
    var tensorOffset: UInt64 = 0
    var tensorType: UInt32 = 0
    var dims: [UInt64] = [32]
    var duplicateTensor = false
    var alignment: UInt32 = 32

    func bytes() -> [UInt8] {
        var w = ByteWriter()
        w.u32(GGUFFile.magic)
        w.u32(version)
        let tensors = duplicateTensor ? 2 : 1
        w.u64(tensorCountOverride ?? UInt64(tensors))
        w.u64(kvCountOverride ?? 3)
        w.string("general.alignment"); w.u32(GGUFValueType.uint32.rawValue); w.u32(alignment)
        w.string("general.name"); w.u32(GGUFValueType.string.rawValue)
        if let n = stringLengthOverride { w.u64(n); w.bytes += Array("crafted".utf8) } else { w.string("crafted") }
        w.string("test.array"); w.u32(GGUFValueType.array.rawValue); w.u32(GGUFValueType.int32.rawValue)
        w.u64(arrayLengthOverride ?? 3); w.u32(1); w.u32(2); w.u32(3)
        for i in 0..<tensors {
            w.string("w")
            w.u32(UInt32(dims.count))
            for d in dims { w.u64(d) }
            w.u32(tensorType)
            w.u64(i == 0 ? tensorOffset : 128)
        }
        while w.bytes.count % 32 != 0 { w.bytes.append(0) }
        w.bytes += [UInt8](repeating: 0, count: 256)
        return w.bytes
    }
}

func requireDefaultModel() throws -> String {
    let path = Fixtures.defaultModel
    guard FileManager.default.fileExists(atPath: path) else {
        throw XCTSkip("default model missing at \(path): run Tools/fetch-model first")
    }
    return path
}
