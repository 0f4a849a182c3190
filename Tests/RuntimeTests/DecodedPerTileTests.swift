import CKernels
import GGUF
import LLMRuntime
import TestSupport
import XCTest

/// Matrices in the IQ1/IQ2/IQ3 codebook formats, TQ1_0/TQ2_0 and Q1_0/Q2_0 stay in the file's
/// bytes and are decoded to Q8_0 one group of 8 rows at a time at mat-mul time: a model of them
/// gives the same logits, bit for bit, as the same model with those matrices stored as the Q8_0
/// copies a load used to make, prefill and decode, on two threads.
final class DecodedPerTileTests: XCTestCase {
    static let types: [GGMLType] = [.iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s, .iq1_s, .iq1_m, .tq1_0, .tq2_0, .q1_0, .q2_0]

    /// Random blocks of `type`, `count` of 256 values: random bytes (every grid index, sign,
    /// sub-scale and quant occurs) with each block's f16 scale set to a quantizer's size (IQ1_M's
    /// is spread over the top nibbles of its four sub-block scales; Q2_K also has a min scale).
    static func randomBlocks(_ type: GGMLType, count: Int, rng: inout SplitMix64) -> [UInt8] {
        if type.blockSize < 256 {  // Q1_0, Q2_0: 128 and 64 values, the scale first
            return (0..<(count * 256 / type.blockSize)).flatMap { _ -> [UInt8] in
                let d = lr_f32_to_f16(Float(5 + rng.next() % 95) / 10000)
                return [UInt8(d & 0xFF), UInt8(d >> 8)] + (2..<type.typeSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
        let bytes = type.byteCount(forElements: 256)!
        let dAt: Int? = switch type {
        case .q2_K: 80
        case .q3_K: 108
        case .tq1_0: 52
        case .tq2_0: 64
        case .iq1_m: nil
        default: 0
        }
        var out = [UInt8]()
        out.reserveCapacity(bytes * count)
        for _ in 0..<count {
            var b = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let d = lr_f32_to_f16(Float(5 + rng.next() % 95) / 10000)
            if let at = dAt {
                b[at] = UInt8(d & 0xFF); b[at + 1] = UInt8(d >> 8)
            } else {
                for i in 0..<4 { b[49 + 2 * i] = b[49 + 2 * i] & 0x0F | UInt8((d >> (4 * i)) & 0xF) << 4 }
            }
            if type == .q2_K {
                let m = lr_f32_to_f16(Float(rng.next() % 100) / 10000)
                b[82] = UInt8(m & 0xFF); b[83] = UInt8(m >> 8)
            }
            out += b
        }
        return out
    }

    /// A tiny model whose block matrices and output are `type` (raw blocks seeded by tensor
    /// name), or the Q8_0 copy of those same blocks when `asQ8Copy`.
    private func model(_ type: GGMLType, asQ8Copy: Bool) -> TinyModel {
        var t = TinyModel()
        t.hiddenSize = 256
        t.headDim = 64
        t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 512), count: 2)
        t.matrixType = asQ8Copy ? .q8_0 : type
        t.tiedOutput = false  // the output's rows (the vocabulary) end in a partial group of 8
        t.tensorBytes = { desc in
            guard desc.shape.count == 2, desc.name != "token_embd.weight" else { return nil }
            var rng = SplitMix64(seed: desc.name.utf8.reduce(UInt64(type.rawValue)) { $0 &* 31 &+ UInt64($1) })
            let (columns, rows) = (desc.shape[0], desc.shape[1])
            let raw = DecodedPerTileTests.randomBlocks(type, count: rows * columns / 256, rng: &rng)
            guard asQ8Copy else { return raw }
            var q8 = [UInt8](repeating: 0, count: rows * columns / 32 * 34)
            var scratch = [Float](repeating: 0, count: columns)
            let status = lr_decode_rows_q8_0(Int32(type.rawValue), raw, type.byteCount(forElements: columns)!, 0, Int32(rows),
                                             Int32(columns), &q8, &scratch)
            return status == 0 ? q8 : nil
        }
        return t
    }

    func testDecodedPerTileEqualsQ8_0Copy() throws {
        XCTAssertEqual(GGMLType.iq2_xxs.runsAsDescription, "decoded per tile from IQ2_XXS to Q8_0")  // what `info -v` prints
        XCTAssertEqual(Set(GGMLType.allCases.filter { if case .decodedPerTile = $0.kernelHandling { true } else { false } }),
                       Set(DecodedPerTileTests.types))
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        for type in DecodedPerTileTests.types {
            XCTAssertEqual(type.kernelHandling, .decodedPerTile(to: .q8_0), "\(type)")
            XCTAssertEqual(type.kernelType, type, "\(type) is held in its own bytes")
            let path = try model(type, asQ8Copy: false).write(to: dir.file("\(type).gguf"))
            let copy = try model(type, asQ8Copy: true).write(to: dir.file("\(type).q8.gguf"))

            // Held as the file's bytes: a view onto the mapping, no conversion counted.
            let file = try GGUFFile(path: path)
            let tensor = try XCTUnwrap(file.tensor(named: "blk.0.ffn_down.weight"))
            let m = try WeightMatrix(tensor: tensor, in: file)
            XCTAssertEqual(m.type, type)
            XCTAssertEqual(m.layout, .rows)
            XCTAssertEqual(WeightMatrix.kernelByteCount(of: tensor), tensor.byteCount)
            XCTAssertTrue(MemoryEstimate.convertedAtLoad(file).isEmpty, "\(type): nothing is converted at load")

            let ours = try batchAndStepwiseLogits(path), theirs = try batchAndStepwiseLogits(copy)
            // TQ's activations are rounded per 256 values, as llama.cpp's Q8_K (the copy's per 32):
            // close, not bitwise; the kernel check holds their decode and rounding to the bit.
            let perSuperBlock = lr_activations_per_256(Int32(type.rawValue)) != 0
            for (i, (a, b)) in zip(ours, theirs).enumerated() where a != b {
                let worst = zip(a, b).map { abs($0 - $1) }.max()!
                if perSuperBlock && worst <= 0.02 * b.map(abs).max()! { continue }
                XCTFail("\(type): logits row \(i) differ from the Q8_0 copy's (max |diff| \(worst))")
                break
            }
            if perSuperBlock { XCTAssertNotEqual(ours, theirs, "\(type): activations rounded per 256 values") }
            XCTAssertTrue(ours.allSatisfy { $0.allSatisfy(\.isFinite) }, "\(type): finite logits")
        }
    }
}
