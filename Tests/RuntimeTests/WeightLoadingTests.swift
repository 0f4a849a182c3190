import CKernels
import GGUF
import LLMRuntime
import TestSupport
import XCTest

/// Matrices in formats without a kernel are converted once at load, to the format
/// `WeightMatrix.kernelType` names, and the memory estimate counts them that way.
final class WeightLoadingTests: XCTestCase {
    /// A 3 × 512 Q4_K matrix (two super-blocks a row) with sane scales and random quants.
    private func q4KBytes(rows: Int, columns: Int) -> [UInt8] {
        var rng = SplitMix64(seed: 5)
        var bytes = [UInt8]()
        for _ in 0..<(rows * columns / 256) {
            for scale: Float in [0.02, 0.01] {
                let h = lr_f32_to_f16(scale * Float(1 + rng.next() % 100) / 100)
                bytes += [UInt8(h & 0xFF), UInt8(h >> 8)]
            }
            for _ in 0..<(12 + 128) { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        return bytes
    }

    func testQ4_KLoadsInItsOwnBytes() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let rows = 3, columns = 512
        let raw = q4KBytes(rows: rows, columns: columns)
        let path = dir.file("q4k.gguf")
        let writer = try GGUFWriter(path: path, metadata: [("general.architecture", .string("llama"))],
                                    tensors: [GGUFTensorDescriptor(name: "m.weight", shape: [columns, rows], type: .q4_K)])
        try writer.writeTensor(named: "m.weight", bytes: raw)
        try writer.finish()

        let file = try GGUFFile(path: path)
        let tensor = try XCTUnwrap(file.tensor(named: "m.weight"))
        let m = try WeightMatrix(tensor: tensor, in: file)
        // Q4_K and Q5_K run in their own bytes (a view onto the file).
        XCTAssertEqual(m.type, .q4_K)
        XCTAssertEqual(WeightMatrix.kernelType(for: .q4_K), .q4_K)
        XCTAssertEqual(WeightMatrix.kernelType(for: .q6_K), .q6_K)
        XCTAssertEqual(WeightMatrix.kernelType(for: .q5_K), .q5_K)
        XCTAssertEqual(WeightMatrix.kernelType(for: .q4_0), .q4_0)
        XCTAssertEqual(GGMLType.q4_K.kernelHandling, .native)
        XCTAssertEqual(GGMLType.iq4_xs.kernelHandling, .repacked(to: .iq4_nl))
        XCTAssertEqual(GGMLType.q6_K.kernelHandling, .native)
        XCTAssertEqual(WeightMatrix.nativeTypes, [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_nl, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K])
        // Every native format has an x8 layout in CKernels' type table.
        for t in WeightMatrix.nativeTypes {
            XCTAssertGreaterThan(lr_x8_group_bytes(Int32(t.rawValue), Int32(t.blockSize)), 0, "\(t)")
        }
        XCTAssertEqual(WeightMatrix.kernelByteCount(of: tensor), rows * columns / 256 * 144)
        XCTAssertEqual(m.rows, rows)
        XCTAssertEqual(m.columns, columns)

        // The loaded matrix holds the file's values (to the f16 rounding of each block's scales).
        var want = [Float](repeating: 0, count: rows * columns)
        XCTAssertEqual(lr_dequantize_row(Int32(GGMLType.q4_K.rawValue), raw, &want, Int64(rows * columns)), 0)
        let got = m.dequantized()
        var worst: Float = 0, largest: Float = 0
        for i in 0..<(rows * columns) {
            worst = max(worst, abs(got[i] - want[i]))
            largest = max(largest, abs(want[i]))
        }
        XCTAssertGreaterThan(largest, 0.1)
        XCTAssertLessThan(worst, largest * 0x1p-9)
    }

    /// Q5_K matrices run in their own super-blocks (5.5 bits a value, not Q8_0's 8.5 or Q5_1's 6),
    /// holding the file's values.
    func testQ5_KLoadsInItsOwnBytes() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var rng = SplitMix64(seed: 13)
        let rows = 8, columns = 512
        var raw = [UInt8]()
        for _ in 0..<(rows * columns / 256) {
            for _ in 0..<2 {
                let h = lr_f32_to_f16(Float(1 + rng.next() % 100) / 4000)
                raw += [UInt8(h & 0xFF), UInt8(h >> 8)]
            }
            raw += (0..<(12 + 32 + 128)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        try assertLoadsInItsOwnBytes(raw, type: .q5_K, rows: rows, columns: columns, blockBytes: 176, tolerance: 0x1p-9, in: dir)
    }

    /// Q6_K matrices run in their own super-blocks (6.56 bits a value, not a Q8_0 copy's 8.5),
    /// holding the file's values; 16 rows, so two x8 groups in the chunk order of lr_kx8_position.
    func testQ6_KLoadsInItsOwnBytes() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var rng = SplitMix64(seed: 17)
        let rows = 16, columns = 512
        var raw = [UInt8]()
        for _ in 0..<(rows * columns / 256) {
            raw += (0..<(128 + 64 + 16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }  // ql, qh, int8 scales
            let h = lr_f32_to_f16(Float(1 + rng.next() % 100) / 400_000)
            raw += [UInt8(h & 0xFF), UInt8(h >> 8)]
        }
        try assertLoadsInItsOwnBytes(raw, type: .q6_K, rows: rows, columns: columns, blockBytes: 210, tolerance: 0, in: dir)
    }

    /// Q2_K and Q3_K matrices run in their own super-blocks (2.6 and 3.4 bits a value, no
    /// decoding per tile), holding the file's values; 16 rows, two x8 groups in the chunk order of
    /// lr_kx8_position.
    func testQ2_KAndQ3_KLoadInTheirOwnBytes() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var rng = SplitMix64(seed: 23)
        let rows = 16, columns = 512
        for (type, bytes, dAt) in [(GGMLType.q2_K, 84, 80), (.q3_K, 110, 108)] {
            XCTAssertEqual(type.kernelHandling, .native)
            var raw = [UInt8]()
            for _ in 0..<(rows * columns / 256) {
                var b = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                for at in stride(from: dAt, to: bytes, by: 2) {  // d (and Q2_K's dmin)
                    let h = lr_f32_to_f16(Float(1 + rng.next() % 100) / 4000)
                    b[at] = UInt8(h & 0xFF); b[at + 1] = UInt8(h >> 8)
                }
                raw += b
            }
            try assertLoadsInItsOwnBytes(raw, type: type, rows: rows, columns: columns, blockBytes: bytes, tolerance: 0, in: dir)
        }
    }

    /// Q5_0 matrices are used where they lie in the file (no Q8_0 copy at half as much again).
    func testQ5_0LoadsAsItIs() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var rng = SplitMix64(seed: 5)
        let rows = 8, columns = 640
        let values = (0..<(rows * columns)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        let bytes = try XCTUnwrap(values.withUnsafeBufferPointer { TensorConversion.quantize($0.baseAddress!, count: rows * columns, to: .q5_0) })
        XCTAssertEqual(bytes.count, rows * columns / 32 * 22)
        let path = dir.file("q5.gguf")
        let writer = try GGUFWriter(path: path, metadata: [("general.architecture", .string("llama"))],
                                    tensors: [GGUFTensorDescriptor(name: "w.weight", shape: [columns, rows], type: .q5_0)])
        try writer.writeTensor(named: "w.weight", bytes: bytes)
        try writer.finish()
        let file = try GGUFFile(path: path)
        let tensor = try XCTUnwrap(file.tensor(named: "w.weight"))
        let m = try WeightMatrix(tensor: tensor, in: file)
        XCTAssertEqual(m.type, .q5_0)
        XCTAssertEqual(m.data, UnsafeRawPointer(file.data(for: tensor).baseAddress!), "a view onto the mapping")
        XCTAssertEqual(WeightMatrix.kernelByteCount(of: tensor), bytes.count)
        XCTAssertTrue(MemoryEstimate.convertedAtLoad(file).isEmpty)
        let got = m.dequantized()
        for i in 0..<(rows * columns) where abs(got[i] - values[i]) > 1.0 / 16 {
            XCTFail("value \(i): \(got[i]) against \(values[i])")
            break
        }
    }

    /// IQ4_NL and IQ4_XS matrices (llama-quantize's choice for rows that are not whole 256-value
    /// super-blocks, and its 4.25-bit format) run as IQ4_NL holding the file's values: IQ4_NL's
    /// bytes as they are, IQ4_XS's to the f16 rounding of each sub-block's scale.
    func testIQ4LoadsAsIQ4_NLWithItsValues() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var rng = SplitMix64(seed: 9)
        func half() -> [UInt8] {
            let h = lr_f32_to_f16(0.001 * Float(1 + rng.next() % 100) / 10)
            return [UInt8(h & 0xFF), UInt8(h >> 8)]
        }
        func randomBytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        let rows = 4, columns = 512
        let nl = (0..<(rows * columns / 32)).flatMap { _ in half() + randomBytes(16) }
        let xs = (0..<(rows * columns / 256)).flatMap { _ in half() + randomBytes(2 + 4 + 128) }
        let path = dir.file("iq4.gguf")
        let writer = try GGUFWriter(path: path, metadata: [("general.architecture", .string("llama"))],
                                    tensors: [GGUFTensorDescriptor(name: "nl.weight", shape: [columns, rows], type: .iq4_nl),
                                              GGUFTensorDescriptor(name: "xs.weight", shape: [columns, rows], type: .iq4_xs)])
        try writer.writeTensor(named: "nl.weight", bytes: nl)
        try writer.writeTensor(named: "xs.weight", bytes: xs)
        try writer.finish()

        let file = try GGUFFile(path: path)
        for (name, type, raw, tolerance) in [("nl.weight", GGMLType.iq4_nl, nl, Float(0)), ("xs.weight", .iq4_xs, xs, 0x1p-10)] {
            let tensor = try XCTUnwrap(file.tensor(named: name))
            XCTAssertEqual(tensor.type, type)
            let m = try WeightMatrix(tensor: tensor, in: file)
            XCTAssertEqual(m.type, .iq4_nl, name)
            XCTAssertEqual(WeightMatrix.kernelByteCount(of: tensor), rows * columns / 32 * 18)
            var want = [Float](repeating: 0, count: rows * columns)
            XCTAssertEqual(lr_dequantize_row(Int32(type.rawValue), raw, &want, Int64(rows * columns)), 0)
            let got = m.dequantized()
            let largest = want.map(abs).max()!
            XCTAssertGreaterThan(largest, 0.01, name)
            for i in 0..<(rows * columns) where abs(got[i] - want[i]) > tolerance * largest {
                XCTFail("\(name) value \(i): \(got[i]) against \(want[i])")
                break
            }
        }
    }

    /// Hyper-parameters a corrupt file gets wrong are refused as bad model data before anything is
    /// sized by them (found by fuzzing the SmolLM2 file's metadata: a block count of 2^31 had
    /// allocated per-layer arrays until the process died; a RoPE width past the head indexed
    /// out of its tables; an embedding width of 2^31 overflowed the pruner's parameter count).
    func testCorruptHyperParametersAreRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let cases: [(String, GGUFValue, String)] = [
            ("llama.block_count", .uint32(0x7FFF_FFFF), "block_count"),
            ("llama.block_count", .uint32(0xFFFF_FFFF), "block_count"),
            ("llama.rope.dimension_count", .uint32(0x8000_0000), "rope.dimension_count"),
            ("llama.rope.dimension_count", .uint32(17), "rope.dimension_count"),
            ("llama.embedding_length", .uint32(0x7FFF_FFFF), "embedding_length"),
            ("llama.embedding_length", .uint32(0xFFFF_FFFF), "embedding_length"),
            ("llama.feed_forward_length", .uint32(96), "feed_forward_length"),
            ("llama.attention.head_count", .uint32(8), "head_count"),
            ("llama.attention.key_length", .uint64(1 << 40), "key_length"),
        ]
        for (i, (key, value, mention)) in cases.enumerated() {
            var t = TinyModel()
            t.metadataOverrides = [key: value]
            let path = try t.write(to: dir.file("bad\(i).gguf"))
            // The config alone (what the pruner and `info` read) refuses them, not just binding.
            XCTAssertThrowsError(try ModelConfig(file: GGUFFile(path: path)), key) { error in
                guard case ModelError.badModel(_, let detail) = error else { return XCTFail("\(key): \(error)") }
                XCTAssertTrue(detail.contains(mention), detail)
            }
        }
    }

    /// Writes `raw` as one matrix `m.weight` of `type` (rows x columns), loads it as the runtime
    /// does, and checks that it stays in that type at the file's size (`blockBytes` a 256-value
    /// super-block) and holds the reference dequantizer's values, within `tolerance` of the largest.
    private func assertLoadsInItsOwnBytes(_ raw: [UInt8], type: GGMLType, rows: Int, columns: Int, blockBytes: Int,
                                          tolerance: Float, in dir: TemporaryDirectory) throws {
        let path = dir.file("\(type).gguf")
        let writer = try GGUFWriter(path: path, metadata: [("general.architecture", .string("llama"))],
                                    tensors: [GGUFTensorDescriptor(name: "m.weight", shape: [columns, rows], type: type)])
        try writer.writeTensor(named: "m.weight", bytes: raw)
        try writer.finish()
        let file = try GGUFFile(path: path)
        let tensor = try XCTUnwrap(file.tensor(named: "m.weight"))
        var want = [Float](repeating: 0, count: rows * columns)
        XCTAssertEqual(lr_dequantize_row(Int32(type.rawValue), raw, &want, Int64(rows * columns)), 0)
        let m = try WeightMatrix(tensor: tensor, in: file)  // maps the file's bytes: `file` stays alive below
        XCTAssertEqual(m.type, type)
        XCTAssertEqual(WeightMatrix.kernelByteCount(of: tensor), rows * columns / 256 * blockBytes)
        let got = withExtendedLifetime(file) { m.dequantized() }
        let largest = want.map(abs).max()!
        XCTAssertGreaterThan(largest, 0.1)
        for i in 0..<(rows * columns) where abs(got[i] - want[i]) > largest * tolerance {
            XCTFail("\(type) value \(i): \(got[i]) against \(want[i])")
            break
        }
    }
}
