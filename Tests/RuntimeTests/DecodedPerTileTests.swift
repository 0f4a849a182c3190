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

    /// A tiny model whose block matrices and output are `type`, or the Q8_0 copy of those same
    /// blocks (decoded as a tile is) when `asQ8Copy`.
    private func model(_ type: GGMLType, asQ8Copy: Bool) -> TinyModel {
        RandomBlocks.model(type, blocks: { RandomBlocks.of(type, count: $1, rng: &$0) },
                           twin: asQ8Copy ? { raw, columns, rows in
            var q8 = [UInt8](repeating: 0, count: rows * columns / 32 * 34)
            var scratch = [Float](repeating: 0, count: columns)
            let status = lr_decode_rows_q8_0(Int32(type.rawValue), raw, type.byteCount(forElements: columns)!, 0, Int32(rows),
                                             Int32(columns), &q8, &scratch)
            return status == 0 ? q8 : nil
        } : nil)
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
