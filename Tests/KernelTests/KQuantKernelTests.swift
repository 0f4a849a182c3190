import CKernels
import XCTest

/// Q2_K to Q6_K run in the file's own super-blocks: the scalar row dot against the exact product
/// of the dequantized rows, the x8 layout's round trip, and every SIMD backend's x8 kernel
/// against the scalar rows, on random blocks and on extreme ones (every quant, scale and min at
/// its largest; Q6_K's int8 scales at -128) where vpdpbusd's unsigned x signed order and the
/// AVX2 int16 sums are most at risk.
final class KQuantKernelTests: XCTestCase {
    override func tearDown() {
        _ = lr_kernels_force("auto")
        super.tearDown()
    }

    private static let types: [(id: Int32, blockBytes: Int, name: String)] = [
        (Int32(LR_TYPE_Q4_K), 144, "Q4_K"), (Int32(LR_TYPE_Q5_K), 176, "Q5_K"), (Int32(LR_TYPE_Q6_K), 210, "Q6_K"),
        (Int32(LR_TYPE_Q2_K), 84, "Q2_K"), (Int32(LR_TYPE_Q3_K), 110, "Q3_K"),
    ]
    /// Where a super-block's f16 d sits (Q2_K's dmin, Q4_K's and Q5_K's follow it).
    private static func dAt(_ type: Int32) -> Int {
        switch type {
        case Int32(LR_TYPE_Q6_K): 208
        case Int32(LR_TYPE_Q2_K): 80
        case Int32(LR_TYPE_Q3_K): 108
        default: 0
        }
    }

    /// Random super-blocks: any scale and quant bytes, a quantizer-sized f16 d (and dmin).
    private func randomBlocks(_ type: Int32, _ count: Int, _ rng: inout KernelRNG) -> [UInt8] {
        let bb = Self.types.first { $0.id == type }!.blockBytes
        let noMin = type == Int32(LR_TYPE_Q6_K) || type == Int32(LR_TYPE_Q3_K)
        var bytes = (0..<(count * bb)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for b in 0..<count {
            let d = lr_f32_to_f16(rng.uniform(0.0005, 0.01)), dmin = lr_f32_to_f16(rng.uniform(0, 0.01))
            let at = b * bb + Self.dAt(type)
            bytes[at] = UInt8(d & 0xff); bytes[at + 1] = UInt8(d >> 8)
            if !noMin { bytes[at + 2] = UInt8(dmin & 0xff); bytes[at + 3] = UInt8(dmin >> 8) }
        }
        return bytes
    }

    /// The exact product and the sum of |terms| of a dequantized row with an activation row.
    private func exact(_ type: Int32, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ k: Int) -> (Double, Double) {
        var wf = [Float](repeating: 0, count: k), af = [Float](repeating: 0, count: k)
        _ = lr_dequantize_row(type, w, &wf, Int64(k))
        lr_dequantize_row_q8_0(a, &af, Int64(k))
        var s = 0.0, m = 0.0
        for i in 0..<k { s += Double(wf[i]) * Double(af[i]); m += abs(Double(wf[i]) * Double(af[i])) }
        return (s, m)
    }

    func testScalarDotIsExactUpToRounding() {
        var rng = KernelRNG(seed: 25)
        for t in Self.types {
            for k in [256, 1536, 4864] {
                let w = randomBlocks(t.id, k / 256, &rng), a = randomActivations(k / 32, &rng)
                var got: Float = 0
                w.withUnsafeBytes { wp in
                    a.withUnsafeBytes { ap in
                        switch t.name {
                        case "Q4_K": lr_vec_dot_q4_K_q8_0_scalar(Int32(k), &got, wp.baseAddress, ap.baseAddress)
                        case "Q5_K": lr_vec_dot_q5_K_q8_0_scalar(Int32(k), &got, wp.baseAddress, ap.baseAddress)
                        case "Q2_K": lr_vec_dot_q2_K_q8_0_scalar(Int32(k), &got, wp.baseAddress, ap.baseAddress)
                        case "Q3_K": lr_vec_dot_q3_K_q8_0_scalar(Int32(k), &got, wp.baseAddress, ap.baseAddress)
                        default: lr_vec_dot_q6_K_q8_0_scalar(Int32(k), &got, wp.baseAddress, ap.baseAddress)
                        }
                        let (e, mag) = exact(t.id, wp.baseAddress!, ap.baseAddress!, k)
                        XCTAssertLessThanOrEqual(abs(Double(got) - e), 1e-5 * mag, "\(t.name) k=\(k)")
                    }
                }
            }
        }
    }

    /// Packs 16 rows (two groups), checks the round trip, and compares every backend's x8
    /// mat-mul with the scalar rows for 1...9 tokens and both the paired and the odd last group.
    private func checkBackends(_ type: Int32, name: String, k: Int, rows: [UInt8], acts: [UInt8], tokens: Int) {
        let rowBytes = rows.count / 16, actBytes = k / 32 * 34
        let groupBytes = lr_x8_group_bytes(type, Int32(k))
        XCTAssertEqual(groupBytes, 8 * rowBytes)
        var packed = [UInt8](repeating: 0, count: 2 * groupBytes)
        rows.withUnsafeBytes { r in
            packed.withUnsafeMutableBytes { p in
                for g in 0..<2 {
                    XCTAssertEqual(lr_x8_pack(type, r.baseAddress! + g * 8 * rowBytes, rowBytes, Int32(k), p.baseAddress! + g * groupBytes), 0)
                }
                var back = [UInt8](repeating: 0, count: rowBytes)
                for row in 0..<16 {
                    XCTAssertEqual(lr_x8_unpack_row(type, p.baseAddress! + row / 8 * groupBytes, Int32(row % 8), Int32(k), &back), 0)
                    XCTAssertEqual(back, Array(rows[(row * rowBytes)..<((row + 1) * rowBytes)]), "\(name) row \(row) round trip")
                }
            }
        }
        for backend in availableSIMDBackends() {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            XCTAssertEqual(lr_x8_preferred(type), 1, "\(backend) runs \(name) in x8")
            for n in 1...tokens {
                for g0 in 0..<2 {
                    var out = [Float](repeating: 0, count: n * 16), ref = out
                    rows.withUnsafeBytes { r in
                        packed.withUnsafeBytes { p in
                            acts.withUnsafeBytes { a in
                                XCTAssertEqual(lr_gemm_q8_x8(type, p.baseAddress, Int32(g0), 2, a.baseAddress, actBytes, Int32(n), Int32(k), &out, 16), 0)
                                XCTAssertEqual(lr_gemm_q8_scalar(type, r.baseAddress, rowBytes, Int32(8 * g0), 16, a.baseAddress, actBytes,
                                                                 Int32(n), Int32(k), &ref, 16), 0)
                                for t in 0..<n {
                                    for row in (8 * g0)..<16 {
                                        let (_, mag) = exact(type, r.baseAddress! + row * rowBytes, a.baseAddress! + t * actBytes, k)
                                        XCTAssertLessThanOrEqual(abs(Double(out[t * 16 + row]) - Double(ref[t * 16 + row])), 1e-5 * mag,
                                                                 "\(backend) \(name) k=\(k) tokens=\(n) row \(row) token \(t)")
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        _ = lr_kernels_force("auto")
    }

    func testX8KernelsMatchScalarOnRandomBlocks() throws {
        try XCTSkipIf(availableSIMDBackends().isEmpty, "no SIMD backend on this CPU")
        var rng = KernelRNG(seed: 26)
        for t in Self.types {
            for k in [256, 1536] {
                checkBackends(t.id, name: t.name, k: k, rows: randomBlocks(t.id, 16 * k / 256, &rng),
                              acts: randomActivations(9 * k / 32, &rng), tokens: 9)
            }
        }
    }

    func testX8KernelsMatchScalarOnExtremeBlocks() throws {
        try XCTSkipIf(availableSIMDBackends().isEmpty, "no SIMD backend on this CPU")
        let k = 512, d = lr_f32_to_f16(0.01)
        // activations all +127, all -127, all -128 (a valid int8 no quantizer writes), mixed
        var acts = [UInt8]()
        for (t, fill) in [0x7f, 0x81, 0x80, 0x7f].enumerated() {
            for b in 0..<(k / 32) {
                acts += [UInt8(d & 0xff), UInt8(d >> 8)]
                acts += (0..<32).map { j in t == 3 && (b + j) % 3 == 0 ? 0x80 : UInt8(fill) }
            }
        }
        for t in Self.types {
            // (quant bytes, scale bytes): all bits set, all clear; Q6_K's scales at -128 and +127
            let q6 = t.id == Int32(LR_TYPE_Q6_K), k23 = t.id == Int32(LR_TYPE_Q2_K) || t.id == Int32(LR_TYPE_Q3_K)
            let fills: [(UInt8, UInt8)] = q6 ? [(0xff, 0xff), (0x00, 0x00), (0xff, 0x80), (0x00, 0x7f)]
                                             : [(0xff, 0xff), (0x00, 0x00), (0xff, 0x00)]
            for (q, s) in fills {
                var rows = [UInt8]()
                for _ in 0..<(16 * k / 256) {
                    if k23 {  // Q2_K, Q3_K: every quant, scale and min at the fill, then d (and dmin)
                        var b = [UInt8](repeating: q, count: t.blockBytes)
                        for at in stride(from: Self.dAt(t.id), to: t.blockBytes, by: 2) { b[at] = UInt8(d & 0xff); b[at + 1] = UInt8(d >> 8) }
                        rows += b
                    } else if !q6 {  // Q5_K's qh takes the quants' fill
                        rows += [UInt8(d & 0xff), UInt8(d >> 8), UInt8(d & 0xff), UInt8(d >> 8)]
                        rows += [UInt8](repeating: s, count: 12) + [UInt8](repeating: q, count: t.blockBytes - 16)
                    } else {
                        rows += [UInt8](repeating: q, count: 192) + [UInt8](repeating: s, count: 16) + [UInt8(d & 0xff), UInt8(d >> 8)]
                    }
                }
                checkBackends(t.id, name: "\(t.name) fill \(q)/\(s)", k: k, rows: rows, acts: acts, tokens: 4)
            }
        }
    }
}
