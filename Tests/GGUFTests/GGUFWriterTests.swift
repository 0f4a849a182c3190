import Foundation
import XCTest
@testable import GGUF
import TestSupport

final class GGUFWriterTests: XCTestCase {
    /// Read the real model, write it back: same metadata, byte-identical tensors.
    func testRoundTripOfRealModel() throws {
        let source = try GGUFFile(path: try requireDefaultModel())
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let out = dir.file("copy.gguf")
        let writer = try GGUFWriter(path: out, metadata: source.metadata,
                                    tensors: source.tensors.map { GGUFTensorDescriptor(name: $0.name, shape: $0.shape, type: $0.type) })
        for t in source.tensors { try writer.writeTensor(named: t.name, bytes: source.data(for: t)) }
        try writer.finish()

        let copy = try GGUFFile(path: out)
        XCTAssertEqual(copy.metadata.count, source.metadata.count)
        for (a, b) in zip(copy.metadata, source.metadata) {
            XCTAssertEqual(a.key, b.key)
            XCTAssertEqual(a.value, b.value, "metadata '\(a.key)' differs")
        }
        XCTAssertEqual(copy.tensors, source.tensors)
        for t in source.tensors {
            XCTAssertTrue(copy.data(for: t).elementsEqual(source.data(for: t)), "tensor \(t.name) differs")
        }
        XCTAssertEqual(copy.fileSize, source.fileSize)
    }

    /// A large tensor goes out in pieces, each reported once written (the pruner drops the
    /// source pages behind it), covering every byte once and in order; the file is intact.
    func testLargeTensorReportsEachWrittenRange() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let out = dir.file("big.gguf")
        let count = 3 * (1 << 20) / 4 + 17  // f32 values: a little over 3 MiB
        let values = (0..<count).map { Float($0 % 1000) }
        let writer = try GGUFWriter(path: out, metadata: [("general.name", .string("x"))],
                                    tensors: [GGUFTensorDescriptor(name: "big", shape: [count], type: .f32)])
        var ranges: [Range<Int>] = []
        try values.withUnsafeBytes { try writer.writeTensor(named: "big", bytes: $0) { ranges.append($0) } }
        try writer.finish()
        XCTAssertGreaterThan(ranges.count, 1)
        XCTAssertEqual(ranges.first?.lowerBound, 0)
        XCTAssertEqual(ranges.last?.upperBound, count * 4)
        for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        let file = try GGUFFile(path: out)
        let t = try XCTUnwrap(file.tensor(named: "big"))
        XCTAssertTrue(file.data(for: t).elementsEqual(values.withUnsafeBytes { Array($0) }))
    }

    func testFailedWriteLeavesNoFile() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let out = dir.file("partial.gguf")
        let tensors = [GGUFTensorDescriptor(name: "a", shape: [32], type: .f32),
                       GGUFTensorDescriptor(name: "b", shape: [32], type: .f32)]
        do {
            let writer = try GGUFWriter(path: out, metadata: [("general.name", .string("x"))], tensors: tensors)
            try writer.writeTensor(named: "a", bytes: [UInt8](repeating: 0, count: 128))
            XCTAssertThrowsError(try writer.writeTensor(named: "b", bytes: [UInt8](repeating: 0, count: 12)))
            XCTAssertThrowsError(try writer.finish())
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        // Dropping an unfinished writer leaves nothing behind either, and no hidden temp file.
        do {
            let writer = try GGUFWriter(path: out, metadata: [], tensors: tensors)
            try writer.writeTensor(named: "a", bytes: [UInt8](repeating: 0, count: 128))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testReplacesExistingFileAtomically() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let out = dir.file("m.gguf")
        _ = FileManager.default.createFile(atPath: out, contents: Data("old".utf8))
        let writer = try GGUFWriter(path: out, metadata: [("k", .array(.string, [.string("a"), .string("b")]))],
                                    tensors: [GGUFTensorDescriptor(name: "t", shape: [4, 2], type: .f32)])
        try writer.writeTensor(named: "t", bytes: [UInt8](repeating: 1, count: 32))
        try writer.finish()
        let f = try GGUFFile(path: out)
        XCTAssertEqual(f["k"], .array(.string, [.string("a"), .string("b")]))
        XCTAssertEqual(Array(f.data(for: f.tensors[0])), [UInt8](repeating: 1, count: 32))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["m.gguf"])
    }

    func testUnwritableDirectory() {
        XCTAssertThrowsError(try GGUFWriter(path: "/nonexistent-dir/x.gguf", metadata: [], tensors: [])) { error in
            guard case GGUFError.cannotCreate = error else { return XCTFail("\(error)") }
        }
    }
}
