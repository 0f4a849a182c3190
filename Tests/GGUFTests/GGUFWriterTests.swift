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
        FileManager.default.createFile(atPath: out, contents: Data("old".utf8))
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
