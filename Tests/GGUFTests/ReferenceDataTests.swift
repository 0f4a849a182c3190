import Foundation
import XCTest
import GGUF
import LLMRuntime
import TestSupport

/// Our dequantizers and Q8_0 quantizer against figures computed by gguf-py and llama-quantize
/// on the real model files (Tests/Reference).
final class ReferenceDataTests: XCTestCase {
    private func json(_ name: String) throws -> Any {
        let path = Fixtures.reference + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            XCTFail("missing reference file \(path)")
            throw XCTSkip("no \(name)")
        }
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Model files are named by case-insensitive match (the reference spells Qwen in lower case).
    private func modelPath(_ referenceName: String) -> String? {
        let dir = Fixtures.repositoryRoot + "/Models"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.first { $0.lowercased() == referenceName.lowercased() }.map { dir + "/" + $0 }
    }

    func testDequantizationMatchesReference() throws {
        guard let reference = try json("dequant.json") as? [String: [[String: Any]]] else { return XCTFail("dequant.json shape") }
        var checked = 0
        for (modelName, tensors) in reference.sorted(by: { $0.key < $1.key }) {
            guard let path = modelPath(modelName) else {
                XCTFail("\(modelName) is not in Models/: run Tools/fetch-model all")
                continue
            }
            let file = try GGUFFile(path: path)
            for t in tensors {
                let name = t["tensor"] as! String
                let info = try XCTUnwrap(file.tensor(named: name), "\(modelName): \(name)")
                XCTAssertEqual("\(info.type)", t["type"] as? String, "\(name) type")
                XCTAssertEqual(info.shape, t["shape"] as? [Int], "\(name) shape")
                let values = TensorConversion.floats(of: info, in: file)
                let first = (t["first16"] as! [Double]).map(Float.init)
                XCTAssertEqual(Array(values.prefix(16)), first, "\(modelName) \(name) first values")
                var sum = 0.0, sumsq = 0.0
                for v in values { sum += Double(v); sumsq += Double(v) * Double(v) }
                let refSum = t["sum"] as! Double, refSq = t["sumsq"] as! Double
                XCTAssertEqual(sum, refSum, accuracy: max(1e-6, abs(refSum) * 1e-6) + 1e-3, "\(modelName) \(name) sum")
                XCTAssertEqual(sumsq, refSq, accuracy: refSq * 1e-6, "\(modelName) \(name) sum of squares")
                XCTAssertEqual(values.count, t["count"] as? Int)
                checked += 1
            }
        }
        XCTAssertEqual(checked, 25)
    }

    /// Requantizing the default model to Q8_0 gives llama-quantize's bytes exactly.
    func testQ8_0RequantizationBytesMatchLlamaQuantize() throws {
        guard let reference = try json("requant-q8_0.json") as? [String: [String: Any]] else { return XCTFail("requant-q8_0.json shape") }
        guard let path = modelPath("SmolLM2-135M-Instruct.Q4_1.gguf") else { throw XCTSkip("default model missing") }
        let file = try GGUFFile(path: path)
        for (name, expected) in reference {
            let info = try XCTUnwrap(file.tensor(named: name))
            let values = TensorConversion.floats(of: info, in: file)
            let targetType = GGMLType(name: expected["type"] as! String)!
            let bytes = values.withUnsafeBufferPointer { TensorConversion.quantize($0.baseAddress!, count: values.count, to: targetType)! }
            XCTAssertEqual(bytes.count, expected["nbytes"] as? Int, name)
            XCTAssertEqual(SHA256.hex(bytes), expected["sha256"] as? String, "\(name) requantized bytes differ from llama-quantize's")
        }
    }

    func testSHA256() {
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
