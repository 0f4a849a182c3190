import CKernels
import XCTest

/// Reference quantizers: round trips within their rounding error and hand-checked blocks.
final class QuantizeTests: XCTestCase {
    private let n = 4096

    private func randomRow() -> [Float] {
        var rng = KernelRNG(seed: 11)
        return (0..<n).map { i in rng.uniform(-1, 1) * (i % 97 == 0 ? 10 : 1) }
    }

    private func roundTrip(_ type: Int32, _ x: [Float], blockBytes: Int) -> (bytes: [UInt8], values: [Float]) {
        var q = [UInt8](repeating: 0, count: n / 32 * blockBytes)
        XCTAssertEqual(lr_quantize_row_ref(type, x, &q, Int64(n)), 0)
        var y = [Float](repeating: 0, count: n)
        XCTAssertEqual(lr_dequantize_row(type, q, &y, Int64(n)), 0)
        return (q, y)
    }

    func testQ8_0RoundTrip() {
        let x = randomRow()
        let (q, y) = roundTrip(Int32(LR_TYPE_Q8_0), x, blockBytes: 34)
        for b in 0..<(n / 32) {
            let d = q.withUnsafeBufferPointer { half($0.baseAddress! + b * 34) }
            for j in 0..<32 {
                // half a step, plus the f16 rounding of the scale
                XCTAssertLessThanOrEqual(abs(y[b * 32 + j] - x[b * 32 + j]), 0.5 * d + 127 * d * 1e-3)
            }
        }
    }

    func testQ4_0RoundTrip() {
        let x = randomRow()
        let (q, y) = roundTrip(Int32(LR_TYPE_Q4_0), x, blockBytes: 18)
        for b in 0..<(n / 32) {
            let d = abs(q.withUnsafeBufferPointer { half($0.baseAddress! + b * 18) })
            for j in 0..<32 {
                // the largest magnitude maps to -8 exactly, so the far end may clamp at 7: one step
                XCTAssertLessThanOrEqual(abs(y[b * 32 + j] - x[b * 32 + j]), d + 8 * d * 1e-3)
            }
        }
    }

    func testQ4_1RoundTrip() {
        let x = randomRow()
        let (q, y) = roundTrip(Int32(LR_TYPE_Q4_1), x, blockBytes: 20)
        for b in 0..<(n / 32) {
            let (d, m) = q.withUnsafeBufferPointer { (half($0.baseAddress! + b * 20), half($0.baseAddress! + b * 20 + 2)) }
            for j in 0..<32 {
                XCTAssertLessThanOrEqual(abs(y[b * 32 + j] - x[b * 32 + j]), 0.5 * d + 16 * d * 1e-3 + abs(m) * 1e-3)
            }
        }
    }

    func testQ5_1RoundTrip() {
        let x = randomRow()
        let (q, y) = roundTrip(Int32(LR_TYPE_Q5_1), x, blockBytes: 24)
        for b in 0..<(n / 32) {
            let (d, m) = q.withUnsafeBufferPointer { (half($0.baseAddress! + b * 24), half($0.baseAddress! + b * 24 + 2)) }
            for j in 0..<32 {
                XCTAssertLessThanOrEqual(abs(y[b * 32 + j] - x[b * 32 + j]), 0.5 * d + 32 * d * 1e-3 + abs(m) * 1e-3)
            }
        }
    }

    func testQ5_0RoundTrip() {
        let x = randomRow()
        let (q, y) = roundTrip(Int32(LR_TYPE_Q5_0), x, blockBytes: 22)
        for b in 0..<(n / 32) {
            let d = abs(q.withUnsafeBufferPointer { half($0.baseAddress! + b * 22) })
            for j in 0..<32 {
                // as Q4_0: the largest magnitude maps to -16 exactly, the far end may clamp at 15
                XCTAssertLessThanOrEqual(abs(y[b * 32 + j] - x[b * 32 + j]), d + 16 * d * 1e-3)
            }
        }
    }

    func testKnownBlocks() {
        let v = (0..<32).map { Float($0 - 16) * 0.5 }  // -8 ... 7.5
        var b8 = [UInt8](repeating: 0, count: 34)
        lr_quantize_row_q8_0_ref(v, &b8, 32)
        XCTAssertEqual(UInt16(b8[0]) | UInt16(b8[1]) << 8, lr_f32_to_f16(8 / 127))
        XCTAssertEqual(Int8(bitPattern: b8[2]), -127)
        XCTAssertEqual(Int8(bitPattern: b8[2 + 16]), 0)
        XCTAssertEqual(Int8(bitPattern: b8[2 + 31]), 119)

        var b4 = [UInt8](repeating: 0, count: 18)
        lr_quantize_row_q4_0_ref(v, &b4, 32)  // max is -8: d = 1, q = trunc(v + 8.5)
        XCTAssertEqual(UInt16(b4[0]) | UInt16(b4[1]) << 8, 0x3C00)
        XCTAssertEqual(b4[2] & 15, 0)
        XCTAssertEqual(b4[3] & 15, 1)
        XCTAssertEqual(b4[4] & 15, 1)
        XCTAssertEqual(b4[17] >> 4, 15)

        var b41 = [UInt8](repeating: 0, count: 20)
        lr_quantize_row_q4_1_ref(v, &b41, 32)
        XCTAssertEqual(UInt16(b41[0]) | UInt16(b41[1]) << 8, lr_f32_to_f16(15.5 / 15))
        XCTAssertEqual(UInt16(b41[2]) | UInt16(b41[3]) << 8, lr_f32_to_f16(-8))
        XCTAssertEqual(b41[4] & 15, 0)
        XCTAssertEqual(b41[19] >> 4, 15)

        var b5 = [UInt8](repeating: 0, count: 22)
        lr_quantize_row_q5_0_ref(v, &b5, 32)  // max is -8: d = 0.5, q = trunc(2v + 16.5) = j
        XCTAssertEqual(UInt16(b5[0]) | UInt16(b5[1]) << 8, 0x3800)
        XCTAssertEqual(Array(b5[2..<6]), [0, 0, 0xFF, 0xFF], "fifth bits: values 16...31")
        XCTAssertEqual(Array(b5[6...]), (0..<16).map { UInt8($0 | $0 << 4) })

        let zeros = [Float](repeating: 0, count: 32)
        lr_quantize_row_q8_0_ref(zeros, &b8, 32)
        XCTAssertEqual(b8, [UInt8](repeating: 0, count: 34))
    }

    func testFloatFormatsAndUnsupported() {
        let x: [Float] = [1, -2, 0.1, 70000]
        var h = [UInt16](repeating: 0, count: 4)
        XCTAssertEqual(lr_quantize_row_ref(Int32(LR_TYPE_F16), x, &h, 4), 0)
        XCTAssertEqual(h, x.map { lr_f32_to_f16($0) })
        XCTAssertEqual(h[3], 0x7C00)
        XCTAssertEqual(lr_quantize_row_ref(Int32(LR_TYPE_BF16), x, &h, 4), 0)
        XCTAssertEqual(h, x.map { lr_f32_to_bf16($0) })
        var q = [UInt8](repeating: 0, count: 256)
        XCTAssertEqual(lr_quantize_row_ref(Int32(LR_TYPE_Q6_K), x, &q, 4), -1)
    }

    /// A quantized dot product equals the float dot product of the dequantized weights with the
    /// activations, up to the activations' 8-bit rounding.
    func testDotOfQuantizedRowsApproximatesFloatDot() {
        var rng = KernelRNG(seed: 12)
        let k = 1536
        let w = (0..<k).map { _ in rng.uniform(-1, 1) }
        let x = (0..<k).map { _ in rng.uniform(-1, 1) }
        var a = [UInt8](repeating: 0, count: k / 32 * 34)
        lr_quantize_row_q8_0(x, &a, Int64(k))
        for type in DotType.allCases {
            var wq = [UInt8](repeating: 0, count: k / 32 * type.blockBytes)
            XCTAssertEqual(lr_quantize_row_ref(type.ggmlType, w, &wq, Int64(k)), 0)
            var wd = [Float](repeating: 0, count: k)
            XCTAssertEqual(lr_dequantize_row(type.ggmlType, wq, &wd, Int64(k)), 0)
            let exact = zip(wd, x).reduce(0.0) { $0 + Double($1.0 * $1.1) }
            var s: Float = 0
            type.dispatchedDot(Int32(k), &s, wq, a)
            // activation rounding: |error| per term <= |w| * d/2 with d <= 1/127; random signs
            XCTAssertEqual(Double(s), exact, accuracy: 0.25, "\(type)")
        }
    }
}
