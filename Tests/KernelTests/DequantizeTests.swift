import CKernels
import XCTest

/// Dequantization of hand-built blocks whose values are known by construction.
final class DequantizeTests: XCTestCase {
    private func dequantize(_ type: Int32, _ block: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        XCTAssertEqual(lr_dequantize_row(type, block, &out, Int64(count)), 0)
        return out
    }

    private func assertValues(_ got: [Float], _ want: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        for (i, (g, w)) in zip(got, want).enumerated() where abs(g - w) > 1e-6 * max(1, abs(w)) {
            XCTFail("\(what): value \(i) is \(g), want \(w)", file: file, line: line)
            return
        }
    }

    private func half(_ f: Float) -> [UInt8] {
        var b = [UInt8]()
        appendHalf(lr_f32_to_f16(f), to: &b)
        return b
    }

    func testQ8_0() {
        let qs = (0..<32).map { Int8($0 * 8 - 127) }
        let block = half(0.5) + qs.map { UInt8(bitPattern: $0) }
        assertValues(dequantize(Int32(LR_TYPE_Q8_0), block, count: 32), qs.map { 0.5 * Float($0) }, "q8_0")
    }

    func testQ4_0AndQ4_1() {
        // byte j: low nibble j (value j), high nibble 15 - j (value 16 + j)
        let nibbles = (0..<16).map { UInt8($0 | ((15 - $0) << 4)) }
        let q = (0..<32).map { (j: Int) -> Float in Float(j < 16 ? j : 31 - j) }
        assertValues(dequantize(Int32(LR_TYPE_Q4_0), half(2) + nibbles, count: 32), q.map { 2 * ($0 - 8) }, "q4_0")
        assertValues(dequantize(Int32(LR_TYPE_Q4_1), half(0.25) + half(-1) + nibbles, count: 32),
                     q.map { 0.25 * $0 - 1 }, "q4_1")
    }

    func testQ5_0AndQ5_1() {
        var qh: UInt32 = 0
        for j in stride(from: 1, to: 32, by: 2) { qh |= 1 << j }  // fifth bit on odd values
        let qhBytes = (0..<4).map { UInt8(truncatingIfNeeded: qh >> (8 * $0)) }
        let nibbles = (0..<16).map { UInt8($0 | ((15 - $0) << 4)) }
        let q = (0..<32).map { (j: Int) -> Float in
            let nibble = j < 16 ? j : 31 - j
            return Float(nibble | ((j & 1) << 4))
        }
        assertValues(dequantize(Int32(LR_TYPE_Q5_0), half(1) + qhBytes + nibbles, count: 32), q.map { $0 - 16 }, "q5_0")
        assertValues(dequantize(Int32(LR_TYPE_Q5_1), half(1) + half(2) + qhBytes + nibbles, count: 32),
                     q.map { $0 + 2 }, "q5_1")
    }

    func testQ2_K() {
        // sub-block s (16 values) has scale s and min 1; value i has q = (i/32 + i) & 3
        let scales = (0..<16).map { UInt8($0 | (1 << 4)) }
        var qs = [UInt8](repeating: 0, count: 64)
        var want = [Float]()
        for i in 0..<256 {
            let q = (i / 32 + i) & 3
            qs[(i / 128) * 32 + i % 32] |= UInt8(q << (2 * ((i % 128) / 32)))
            want.append(Float(i / 16) * Float(q) - 0.5)
        }
        assertValues(dequantize(Int32(LR_TYPE_Q2_K), scales + qs + half(1) + half(0.5), count: 256), want, "q2_K")
    }

    func testQ3_K() {
        // sub-block s has 6-bit scale 4s + 1 (signed value 4s - 31); value i is i % 8 - 4
        var hmask = [UInt8](repeating: 0, count: 32)
        var qs = [UInt8](repeating: 0, count: 64)
        var scales = [UInt8](repeating: 0, count: 12)
        for s in 0..<16 {
            let v = s * 4 + 1
            if s < 8 { scales[s] |= UInt8(v & 15) } else { scales[s - 8] |= UInt8((v & 15) << 4) }
            scales[8 + (s & 3)] |= UInt8((v >> 4) << (2 * (s / 4)))
        }
        var want = [Float]()
        for i in 0..<256 {
            let half = i / 128, plane = (i % 128) / 32, l = i % 32, u = i % 8
            qs[half * 32 + l] |= UInt8((u & 3) << (2 * plane))
            if u & 4 != 0 { hmask[l] |= UInt8(1 << (half * 4 + plane)) }
            want.append(0.5 * Float((i / 16) * 4 + 1 - 32) * Float(u - 4))
        }
        assertValues(dequantize(Int32(LR_TYPE_Q3_K), hmask + qs + scales + half(0.5), count: 256), want, "q3_K")
    }

    /// Scales and mins of Q4_K / Q5_K: sub-block s has scale s + 1 and min 2s, plus offsets for
    /// s >= 4 so the packed high bits are exercised.
    private func k4Scales() -> (packed: [UInt8], scale: (Int) -> Int, min: (Int) -> Int) {
        let scale = { (s: Int) in s + 1 + (s >= 4 ? 40 : 0) }
        let min = { (s: Int) in 2 * s + (s >= 4 ? 33 : 0) }
        var k = [UInt8](repeating: 0, count: 12)
        for s in 0..<8 {
            let sc = scale(s), mn = min(s)
            if s < 4 {
                k[s] |= UInt8(sc)
                k[s + 4] |= UInt8(mn)
            } else {
                k[s + 4] = UInt8((sc & 15) | ((mn & 15) << 4))
                k[s - 4] |= UInt8((sc >> 4) << 6)
                k[s] |= UInt8((mn >> 4) << 6)
            }
        }
        return (k, scale, min)
    }

    func testQ4_K() {
        let (packed, scale, min) = k4Scales()
        var qs = [UInt8](repeating: 0, count: 128)
        var want = [Float]()
        for i in 0..<256 {
            let s = i / 32, q = (i * 7) & 15
            qs[(s / 2) * 32 + i % 32] |= UInt8(q << (4 * (s & 1)))
            want.append(0.5 * Float(scale(s) * q) - 0.25 * Float(min(s)))
        }
        assertValues(dequantize(Int32(LR_TYPE_Q4_K), half(0.5) + half(0.25) + packed + qs, count: 256), want, "q4_K")
    }

    /// Q4_K → Q4_1 keeps the quants and rounds d·sc and dmin·m to f16: exactly the same values
    /// when those products are halves (as here), otherwise within the rounding of the scales.
    func testQ4_KConvertsToQ4_1() {
        let (packed, scale, min) = k4Scales()
        var qs = [UInt8](repeating: 0, count: 128)
        for i in 0..<256 { qs[(i / 64) * 32 + i % 32] |= UInt8(((i * 7) & 15) << (4 * ((i / 32) & 1))) }
        let block = half(0.5) + half(0.25) + packed + qs
        var converted = [UInt8](repeating: 0, count: 8 * 20)
        lr_convert_row_q4_K_to_q4_1(block, &converted, 256)
        assertValues(dequantize(Int32(LR_TYPE_Q4_1), converted, count: 256),
                     dequantize(Int32(LR_TYPE_Q4_K), block, count: 256), "q4_K as q4_1")
        for s in 0..<8 {
            XCTAssertEqual(halfAt(converted, s * 20), 0.5 * Float(scale(s)))
            XCTAssertEqual(halfAt(converted, s * 20 + 2), -0.25 * Float(min(s)))
        }

        // Random blocks, scales that are not halves: each value within the f16 rounding of its
        // block's scale and min (a misplaced quant would be off by at least one scale step).
        var rng = KernelRNG(seed: 11)
        let blocks = 64
        var row = [UInt8]()
        for _ in 0..<blocks {
            appendHalf(lr_f32_to_f16(rng.uniform(1e-4, 0.05)), to: &row)
            appendHalf(lr_f32_to_f16(rng.uniform(1e-4, 0.05)), to: &row)
            for _ in 0..<(12 + 128) { row.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        var out = [UInt8](repeating: 0, count: blocks * 8 * 20)
        lr_convert_row_q4_K_to_q4_1(row, &out, Int64(blocks * 256))
        let want = dequantize(Int32(LR_TYPE_Q4_K), row, count: blocks * 256)
        let got = dequantize(Int32(LR_TYPE_Q4_1), out, count: blocks * 256)
        for i in 0..<(blocks * 256) {
            let b = (i / 32) * 20
            let tolerance = (15 * abs(halfAt(out, b)) + abs(halfAt(out, b + 2))) * 0x1p-10
            if abs(got[i] - want[i]) > tolerance {
                XCTFail("value \(i): \(got[i]) against \(want[i]) (tolerance \(tolerance))")
                return
            }
        }
    }

    private func halfAt(_ bytes: [UInt8], _ offset: Int) -> Float {
        lr_f16_to_f32(UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
    }

    func testQ5_K() {
        let (packed, scale, min) = k4Scales()
        var qs = [UInt8](repeating: 0, count: 128)
        var qh = [UInt8](repeating: 0, count: 32)
        var want = [Float]()
        for i in 0..<256 {
            let s = i / 32, q = (i * 7) & 31
            qs[(s / 2) * 32 + i % 32] |= UInt8((q & 15) << (4 * (s & 1)))
            if q & 16 != 0 { qh[i % 32] |= UInt8(1 << s) }
            want.append(0.5 * Float(scale(s) * q) - 0.25 * Float(min(s)))
        }
        assertValues(dequantize(Int32(LR_TYPE_Q5_K), half(0.5) + half(0.25) + packed + qh + qs, count: 256), want, "q5_K")
    }

    func testQ6_K() {
        var ql = [UInt8](repeating: 0, count: 128)
        var qh = [UInt8](repeating: 0, count: 64)
        let scales = (0..<16).map { UInt8(bitPattern: Int8($0 - 8)) }
        var want = [Float]()
        for i in 0..<256 {
            let half = i / 128, quarter = (i % 128) / 32, l = i % 32, q = (i * 5) & 63
            ql[half * 64 + (quarter & 1) * 32 + l] |= UInt8((q & 15) << (4 * (quarter >> 1)))
            qh[half * 32 + l] |= UInt8((q >> 4) << (2 * quarter))
            want.append(0.25 * Float(i / 16 - 8) * Float(q - 32))
        }
        assertValues(dequantize(Int32(LR_TYPE_Q6_K), ql + qh + scales + half(0.25), count: 256), want, "q6_K")
    }

    /// The IQ4 formats' 16 levels, as ggml defines them (kvalues_iq4nl).
    private let iq4Levels: [Float] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    func testIQ4_NL() {
        // byte j: low nibble j, high nibble 15 - j (Q4_0's order), levels from the table
        let nibbles = (0..<16).map { UInt8($0 | ((15 - $0) << 4)) }
        let want = (0..<32).map { (j: Int) -> Float in 0.5 * iq4Levels[j < 16 ? j : 31 - j] }
        assertValues(dequantize(Int32(LR_TYPE_IQ4_NL), half(0.5) + nibbles, count: 32), want, "iq4_nl")
    }

    /// An IQ4_XS super-block whose sub-block s has 6-bit scale `scale(s)` (stored offset by 32),
    /// value i the level (i * 7) & 15.
    private func iq4XSBlock(d: Float, scale: (Int) -> Int) -> (bytes: [UInt8], values: [Float]) {
        var scalesH: UInt16 = 0
        var scalesL = [UInt8](repeating: 0, count: 4)
        var qs = [UInt8](repeating: 0, count: 128)
        var values = [Float]()
        for s in 0..<8 {
            let stored = scale(s) + 32
            scalesL[s / 2] |= UInt8((stored & 15) << (4 * (s % 2)))
            scalesH |= UInt16(stored >> 4) << (2 * s)
        }
        for i in 0..<256 {
            let s = i / 32, l = i % 32, q = (i * 7) & 15
            qs[s * 16 + l % 16] |= UInt8(q << (l < 16 ? 0 : 4))
            values.append(d * Float(scale(s)) * iq4Levels[q])
        }
        return (half(d) + [UInt8(scalesH & 0xff), UInt8(scalesH >> 8)] + scalesL + qs, values)
    }

    func testIQ4_XS() {
        // Scales -32 (the smallest), 0 and 31 (the largest) included.
        let scales = [-32, -7, 0, 1, 5, 16, 30, 31]
        let (block, want) = iq4XSBlock(d: 0.25, scale: { scales[$0] })
        assertValues(dequantize(Int32(LR_TYPE_IQ4_XS), block, count: 256), want, "iq4_xs")

        // As IQ4_NL, one block per sub-block: exact when d·scale is a half (here), otherwise each
        // value within the f16 rounding of that product (a misplaced nibble is off by a level).
        var converted = [UInt8](repeating: 0, count: 8 * 18)
        lr_convert_row_iq4_xs_to_iq4_nl(block, &converted, 256)
        assertValues(dequantize(Int32(LR_TYPE_IQ4_NL), converted, count: 256), want, "iq4_xs as iq4_nl")

        var rng = KernelRNG(seed: 23)
        let blocks = 16
        var row = [UInt8]()
        for _ in 0..<blocks {
            appendHalf(lr_f32_to_f16(rng.uniform(1e-4, 0.01)), to: &row)
            for _ in 0..<(2 + 4 + 128) { row.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        var out = [UInt8](repeating: 0, count: blocks * 8 * 18)
        lr_convert_row_iq4_xs_to_iq4_nl(row, &out, Int64(blocks * 256))
        let exact = dequantize(Int32(LR_TYPE_IQ4_XS), row, count: blocks * 256)
        let got = dequantize(Int32(LR_TYPE_IQ4_NL), out, count: blocks * 256)
        for i in 0..<(blocks * 256) where abs(got[i] - exact[i]) > 127 * abs(halfAt(out, (i / 32) * 18)) * 0x1p-10 {
            XCTFail("iq4_xs as iq4_nl, value \(i): \(got[i]) against \(exact[i])")
            return
        }
    }

    /// Q5_K re-packed as Q5_1 (what a Q5_K matrix runs as): the same values to the f16 rounding of
    /// each sub-block's scale and min, on random blocks (every scale, min, nibble and fifth bit).
    func testQ5_KConvertsToQ5_1() {
        var rng = KernelRNG(seed: 12)
        let blocks = 64
        var row = [UInt8]()
        for _ in 0..<blocks {
            appendHalf(lr_f32_to_f16(rng.uniform(1e-4, 0.05)), to: &row)
            appendHalf(lr_f32_to_f16(rng.uniform(1e-4, 0.05)), to: &row)
            for _ in 0..<(12 + 32 + 128) { row.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        XCTAssertEqual(row.count, blocks * MemoryLayout<lr_block_q5_K>.size)
        var out = [UInt8](repeating: 0, count: blocks * 8 * 24)
        lr_convert_row_q5_K_to_q5_1(row, &out, Int64(blocks * 256))
        let want = dequantize(Int32(LR_TYPE_Q5_K), row, count: blocks * 256)
        let got = dequantize(Int32(LR_TYPE_Q5_1), out, count: blocks * 256)
        for i in 0..<(blocks * 256) {
            let b = (i / 32) * 24
            let tolerance = (31 * abs(halfAt(out, b)) + abs(halfAt(out, b + 2))) * 0x1p-10
            if abs(got[i] - want[i]) > tolerance {
                XCTFail("value \(i): \(got[i]) against \(want[i]) (tolerance \(tolerance))")
                return
            }
        }
    }

    func testFloatTypesAndUnsupported() {
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001]
        var out = [Float](repeating: 0, count: 4)
        XCTAssertEqual(lr_dequantize_row(Int32(LR_TYPE_F16), f16, &out, 4), 0)
        XCTAssertEqual(out, [1, -2, 65504, 0x1p-24])
        let bf16: [UInt16] = [0x3F80, 0xC040]
        XCTAssertEqual(lr_dequantize_row(Int32(LR_TYPE_BF16), bf16, &out, 2), 0)
        XCTAssertEqual(Array(out[0..<2]), [1, -3])
        let f32: [Float] = [1.5, -2.25, 0, 7]
        XCTAssertEqual(lr_dequantize_row(Int32(LR_TYPE_F32), f32, &out, 4), 0)
        XCTAssertEqual(out, f32)
        XCTAssertEqual(lr_dequantize_row(9, f16, &out, 32), -1)
        XCTAssertEqual(lr_dequantize_row(99, f16, &out, 32), -1)
    }

    func testBlockSizes() {
        XCTAssertEqual(MemoryLayout<lr_block_q4_0>.size, 18)
        XCTAssertEqual(MemoryLayout<lr_block_q4_1>.size, 20)
        XCTAssertEqual(MemoryLayout<lr_block_q5_0>.size, 22)
        XCTAssertEqual(MemoryLayout<lr_block_q5_1>.size, 24)
        XCTAssertEqual(MemoryLayout<lr_block_q8_0>.size, 34)
        XCTAssertEqual(MemoryLayout<lr_block_q2_K>.size, 84)
        XCTAssertEqual(MemoryLayout<lr_block_q3_K>.size, 110)
        XCTAssertEqual(MemoryLayout<lr_block_q4_K>.size, 144)
        XCTAssertEqual(MemoryLayout<lr_block_q5_K>.size, 176)
        XCTAssertEqual(MemoryLayout<lr_block_q6_K>.size, 210)
        XCTAssertEqual(MemoryLayout<lr_block_iq4_nl>.size, 18)
        XCTAssertEqual(MemoryLayout<lr_block_iq4_xs>.size, 136)
    }
}
