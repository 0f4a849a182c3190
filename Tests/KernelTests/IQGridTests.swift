import CKernels
import GGUF
import LLMRuntime
import TestSupport
import XCTest

/// The codebook IQ formats: dequantization of hand-built blocks whose values follow from the
/// format definitions and the grid entries named (ggml-common.h's tables: entry 0 of the IQ2
/// grids is all 8s, entry 1 is 43 then 8s, entry 2 is 25, 25 then 8s, entry 3 is 8, 43 then 8s;
/// IQ3_XXS entry 1 is 20, 4, 4, 4 and entry 5 is 62, 12, 4, 4; IQ3_S entries 0, 1, 2 are
/// 1, 1, 1, 1 / 3, 1, 1, 1 / 5, 1, 1, 1; IQ1 entries 0, 1, 2 are all -1 / 1 then -1s / 0, 0
/// then -1s), and their conversion to Q4_1.
final class IQGridTests: XCTestCase {
    private func half(_ f: Float) -> [UInt8] { let h = lr_f32_to_f16(f); return [UInt8(h & 0xff), UInt8(h >> 8)] }
    private func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xff) } }

    private func dequantize(_ type: GGMLType, _ block: [UInt8]) -> [Float] {
        XCTAssertEqual(block.count, type.byteCount(forElements: 256))
        var out = [Float](repeating: .nan, count: 256)
        XCTAssertEqual(lr_dequantize_row(Int32(type.rawValue), block, &out, 256), 0)
        return out
    }

    private func assertSubBlocks(_ got: [Float], _ want: (Int) -> [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for ib in 0..<8 {
            let w = want(ib), g = Array(got[(ib * 32)..<(ib * 32 + 32)])
            for i in 0..<32 where abs(g[i] - w[i]) > 1e-6 * max(1, abs(w[i])) {
                XCTFail("\(what): sub-block \(ib) value \(i) is \(g[i]), want \(w[i])", file: file, line: line)
                return
            }
        }
    }

    /// IQ2 levels of entries 1, 0, 2, 3 with sign bytes 0x81, 0, 0x03, 0 (bit j: value j negative).
    private let iq2Levels: [Float] = [-43, 8, 8, 8, 8, 8, 8, -8] + [Float](repeating: 8, count: 8)
        + [-25, -25, 8, 8, 8, 8, 8, 8] + [8, 43, 8, 8, 8, 8, 8, 8]

    func testIQ2_XXS() {
        // Sign indices 1 and 3 (7 bits) stand for 0x81 and 0x03: the eighth bit makes the count even.
        let sub = [1, 0, 2, 3].map(UInt8.init) + le32(3 << 28 | 1 | 0 << 7 | 3 << 14 | 0 << 21)
        let block = half(1) + (0..<8).flatMap { _ in sub }
        assertSubBlocks(dequantize(.iq2_xxs, block), { _ in self.iq2Levels.map { 0.875 * $0 } }, "IQ2_XXS")
    }

    func testIQ2_XS() {
        let qs = (0..<8).flatMap { _ in [1 | 1 << 9, 0, 2 | 3 << 9, 3].flatMap(le16) }
        let block = half(2) + qs + [UInt8](repeating: 0x21, count: 8)  // scales 1 and 2: 0.75, 1.25
        assertSubBlocks(dequantize(.iq2_xs, block), { _ in (0..<32).map { self.iq2Levels[$0] * ($0 < 16 ? 0.75 : 1.25) } }, "IQ2_XS")
    }

    func testIQ2_S() {
        let qs = (0..<8).flatMap { _ in [1, 0, 2, 3] as [UInt8] }, signs = (0..<8).flatMap { _ in [0x81, 0, 0x03, 0] as [UInt8] }
        let block = half(2) + qs + signs + [UInt8](repeating: 0, count: 8) + [UInt8](repeating: 0x21, count: 8)
        assertSubBlocks(dequantize(.iq2_s, block), { _ in (0..<32).map { self.iq2Levels[$0] * ($0 < 16 ? 0.75 : 1.25) } }, "IQ2_S")
    }

    func testIQ3_XXS() {
        let qs = (0..<8).flatMap { _ in [1, 0, 5, 0, 0, 0, 0, 0] as [UInt8] }
        let signs = (0..<8).flatMap { _ in le32(1 << 28 | 2) }  // sign index 2 -> 0x82; scale (0.5+1)*0.5
        let want: [Float] = [20, -4, 4, 4, 4, 4, 4, -4] + [62, 12, 4, 4, 4, 4, 4, 4] + [Float](repeating: 4, count: 16)
        assertSubBlocks(dequantize(.iq3_xxs, half(1) + qs + signs), { _ in want.map { 0.75 * $0 } }, "IQ3_XXS")
    }

    func testIQ3_S() {
        let qs = (0..<8).flatMap { _ in [1, 0, 2, 0, 0, 0, 0, 0] as [UInt8] }
        let signs = (0..<8).flatMap { _ in [0x01, 0, 0, 0x80] as [UInt8] }
        let block = half(0.5) + qs + [UInt8](repeating: 0, count: 8) + signs + [UInt8](repeating: 0x32, count: 4)
        let want: [Float] = [-3, 1, 1, 1, 1, 1, 1, 1] + [5, 1, 1, 1, 1, 1, 1, 1] + [Float](repeating: 1, count: 15) + [-1]
        // Scale nibbles 2 (even sub-blocks) and 3 (odd): d * (1 + 2s) = 2.5 and 3.5.
        assertSubBlocks(dequantize(.iq3_s, block), { ib in want.map { $0 * (ib % 2 == 0 ? 2.5 : 3.5) } }, "IQ3_S")
    }

    private let iq1Entries: [[Float]] = [[Float](repeating: -1, count: 8), [1] + [Float](repeating: -1, count: 7),
                                         [0, 0] + [Float](repeating: -1, count: 6)]

    func testIQ1_S() {
        let qs = (0..<8).flatMap { _ in [1, 0, 2, 0] as [UInt8] }
        let qh = (0..<8).flatMap { ib in le16(2 << 12 | (ib % 2 == 1 ? 0x8000 : 0)) }  // d * 5; odd: shift -1/8
        let block = half(0.5) + qs + qh
        assertSubBlocks(dequantize(.iq1_s, block), { ib in
            let delta: Float = ib % 2 == 1 ? -0.125 : 0.125
            return [1, 0, 2, 0].flatMap { self.iq1Entries[$0] }.map { 2.5 * ($0 + delta) }
        }, "IQ1_S")
    }

    func testIQ1_M() {
        // The f16 scale 0.5 (0x3800) is spread over the top nibbles of the four 16-bit scale words;
        // each sub-block's two 3-bit scales are 1 and 2 (d * 3, d * 5).
        let low = (1 | 2 << 3) | (1 | 2 << 3) << 6
        let words = [low | 0x0 << 12, low | 0x0 << 12, low | 0x8 << 12, low | 0x3 << 12]
        let qs = (0..<8).flatMap { _ in [1, 0, 2, 0] as [UInt8] }
        let qh = (0..<8).flatMap { _ in [0x08, 0x80] as [UInt8] }  // shifts: -, +, +, - (per 8 values)
        let block = qs + qh + words.flatMap(le16)
        let want = zip([1, 0, 2, 0], [(1.5, -0.125), (1.5, 0.125), (2.5, 0.125), (2.5, -0.125)] as [(Float, Float)])
            .flatMap { e, s in self.iq1Entries[e].map { s.0 * ($0 + s.1) } }
        assertSubBlocks(dequantize(.iq1_m, block), { _ in want }, "IQ1_M")
    }

    /// TQ1_0: base-3 digits, five a byte (bytes 0-47) or four (the last 4), most significant
    /// first, stored as the digits' fraction of 3^5 scaled to 256 and rounded up: digits
    /// 2,0,1,1,0 are 174/243 -> byte 184; 1,2,0,1,0 are 138/243 -> 146. Level = digit - 1.
    func testTQ1_0() {
        let block = [UInt8](repeating: 184, count: 48) + [UInt8](repeating: 146, count: 4) + half(0.5)
        let five: [Float] = [1, -1, 0, 0, -1], four: [Float] = [0, 1, -1, 0]
        let want = five.flatMap { [Float](repeating: $0, count: 32) } + five.flatMap { [Float](repeating: $0, count: 16) }
            + four.flatMap { [Float](repeating: $0, count: 4) }
        let got = dequantize(.tq1_0, block)
        XCTAssertEqual(got, want.map { 0.5 * $0 })
        XCTAssertEqual(GGMLType.tq1_0.kernelHandling, .decodedPerTile(to: .q8_0))
    }

    /// Q1_0: value j is +d when bit j % 8 of byte j / 8 is set, else -d (128 a block); Q2_0: value
    /// j is d times (code - 1), the code in bits 2 (j % 4) of byte j / 4 (64 a block). ggml's
    /// dequantizers, and the exact decode to Q8_0 that keeps each block's own scale.
    func testQ1_0AndQ2_0() {
        let bits: [UInt8] = (0..<16).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let q1 = half(0.125) + bits
        let q1Want = (0..<128).map { j -> Float in bits[j / 8] >> UInt8(j % 8) & 1 == 1 ? 0.125 : -0.125 }
        let codes: [UInt8] = (0..<16).map { UInt8(truncatingIfNeeded: $0 &* 59 &+ 7) }
        let q2 = half(-0.75) + codes
        let q2Want = (0..<64).map { j -> Float in -0.75 * Float(Int(codes[j / 4] >> UInt8(2 * (j % 4)) & 3) - 1) }
        for (type, block, want) in [(GGMLType.q1_0, q1, q1Want), (.q2_0, q2, q2Want)] {
            XCTAssertEqual(block.count, type.typeSize)
            XCTAssertEqual(type.kernelHandling, .decodedPerTile(to: .q8_0))
            let blocks = 256 / type.blockSize  // a decoded row is whole 256s only where the format's blocks are
            let row = (0..<blocks).flatMap { _ in block }
            var got = [Float](repeating: .nan, count: 256)
            XCTAssertEqual(lr_dequantize_row(Int32(type.rawValue), row, &got, 256), 0)
            XCTAssertEqual(got, (0..<blocks).flatMap { _ in want }, "\(type)")
            // Decoded per tile: Q8_0 blocks of the levels under the block's own f16 scale.
            var q8 = [UInt8](repeating: 0, count: 8 * 34)
            var scratch = [Float](repeating: 0, count: 256)
            XCTAssertEqual(lr_decode_rows_q8_0(Int32(type.rawValue), row, row.count, 0, 1, 256, &q8, &scratch), 0)
            var back = [Float](repeating: .nan, count: 256)
            lr_dequantize_row_q8_0(q8, &back, 256)
            XCTAssertEqual(back, got, "\(type) decodes to Q8_0 exactly")
            XCTAssertEqual(Array(q8[0..<2]), Array(block[0..<2]), "\(type): the block's scale as stored")
        }
        // A width that is not whole blocks is refused.
        var q8 = [UInt8](repeating: 0, count: 2 * 34)
        var scratch = [Float](repeating: 0, count: 64)
        XCTAssertEqual(lr_decode_rows_q8_0(Int32(GGMLType.q1_0.rawValue), q1, q1.count, 0, 1, 64, &q8, &scratch), -1)
    }

    /// TQ2_0: 2-bit codes c (level c - 1), byte j of each 32 holding values j, j+32, j+64, j+96
    /// of its 128 in bits 0-1, 2-3, 4-5, 6-7.
    func testTQ2_0() {
        let codes: [UInt8] = [0, 1, 2, 3]
        let qs = (0..<64).map { (j: Int) -> UInt8 in
            var b: UInt8 = 0
            for l in 0..<4 { b |= codes[(j + l) % 4] << UInt8(2 * l) }
            return b
        }
        let block = qs + half(0.25)
        let want = (0..<256).map { v -> Float in
            let j = v / 128 * 32 + v % 32, l = v % 128 / 32
            return 0.25 * Float(Int(codes[(j + l) % 4]) - 1)
        }
        let got = dequantize(.tq2_0, block)
        XCTAssertEqual(got, want)
        XCTAssertEqual(GGMLType.tq2_0.kernelHandling, .decodedPerTile(to: .q8_0))
    }
}
