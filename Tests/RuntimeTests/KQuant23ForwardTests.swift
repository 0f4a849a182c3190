import CKernels
import GGUF
import LLMRuntime
import TestSupport
import XCTest

/// Q2_K and Q3_K matrices run in their own bytes through their x8 kernels: a tiny model of them
/// gives the logits of the same model with those matrices stored as Q8_0 copies of their
/// dequantized values (the reference the decoded-per-tile path used to compute exactly), within
/// the copy's rounding, prefill and decode, on two threads; and it holds the file's bytes.
final class KQuant23ForwardTests: XCTestCase {
    /// A tiny model whose block matrices and output are `type`, or Q8_0 copies of those blocks'
    /// values when `asQ8Copy`.
    private func model(_ type: GGMLType, asQ8Copy: Bool) -> TinyModel {
        RandomBlocks.model(type, blocks: { rng, count in
            var raw = RandomBlocks.of(type, count: count, rng: &rng)
            if type == .q3_K {
                // Q3_K's random scales (-32...31) times quants (-4...3) are ~10x Q2_K's: a tenth of
                // the scale d keeps the tiny model's activations (and attention) in a sane range,
                // where a weight's rounding moves the logits by as much, not chaotically more.
                for b in 0..<count {
                    let d = lr_f32_to_f16(Float(5 + rng.next() % 95) / 100_000)
                    raw[b * 110 + 108] = UInt8(d & 0xFF); raw[b * 110 + 109] = UInt8(d >> 8)
                }
            }
            return raw
        }, twin: asQ8Copy ? { raw, columns, rows in
            var values = [Float](repeating: 0, count: rows * columns)
            guard lr_dequantize_row(Int32(type.rawValue), raw, &values, Int64(rows * columns)) == 0 else { return nil }
            var q8 = [UInt8](repeating: 0, count: rows * columns / 32 * 34)
            lr_quantize_row_q8_0(values, &q8, Int64(rows * columns))
            return q8
        } : nil)
    }

    func testLogitsMatchQ8_0CopyOfTheirValues() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        for type in [GGMLType.q2_K, .q3_K] {
            XCTAssertEqual(type.kernelHandling, .native, "\(type)")
            XCTAssertEqual(type.runsAsDescription, "\(type)")
            let path = try model(type, asQ8Copy: false).write(to: dir.file("\(type).gguf"))
            let copy = try model(type, asQ8Copy: true).write(to: dir.file("\(type).q8.gguf"))

            // Held as the file's bytes: nothing converted, a matrix takes exactly its tensor's bytes.
            let file = try GGUFFile(path: path)
            let tensor = try XCTUnwrap(file.tensor(named: "blk.0.ffn_down.weight"))
            let m = try WeightMatrix(tensor: tensor, in: file)
            XCTAssertEqual(m.type, type)
            XCTAssertEqual(WeightMatrix.kernelByteCount(of: tensor), tensor.byteCount)
            XCTAssertTrue(MemoryEstimate.convertedAtLoad(file).isEmpty, "\(type): nothing is converted at load")

            let ours = try batchAndStepwiseLogits(path), theirs = try batchAndStepwiseLogits(copy)
            XCTAssertEqual(ours.count, theirs.count)
            for (i, (a, b)) in zip(ours, theirs).enumerated() {
                XCTAssertTrue(a.allSatisfy(\.isFinite), "\(type): row \(i) finite")
                let scale = b.map { abs($0) }.max()!, worst = zip(a, b).map { abs($0 - $1) }.max()!
                XCTAssertGreaterThan(scale, 0.1, "\(type): row \(i) logits are not all near zero")
                // The copy moves each weight by up to half a Q8_0 step (1/254 of its block's largest).
                XCTAssertLessThan(worst, 0.02 * scale, "\(type): logits row \(i) differ from the Q8_0 copy's")
            }
            // The last prefill row and the stepwise decode of the same tokens agree.
            let last = ours[ours.count - 2], step = ours[ours.count - 1]
            XCTAssertLessThan(zip(last, step).map { abs($0 - $1) }.max()!, 1e-3 * last.map { abs($0) }.max()!, "\(type)")
        }
    }
}
