import CKernels
import XCTest

/// Every SIMD backend this machine offers against the scalar oracle. Integer block sums are
/// exact, so the only allowed difference is float accumulation order: 1e-5 of the sum of |terms|.
final class BackendConsistencyTests: XCTestCase {
    override func tearDown() {
        _ = lr_kernels_force("auto")
        super.tearDown()
    }

    func testBackendSelection() {
        lr_kernels_init()
        let best = String(cString: lr_kernels_backend())
        XCTAssertEqual(lr_kernels_force("scalar"), 0)
        XCTAssertEqual(String(cString: lr_kernels_backend()), "scalar")
        XCTAssertEqual(lr_kernels_force("no-such-backend"), -1)
        XCTAssertEqual(String(cString: lr_kernels_backend()), "scalar", "a failed force keeps the backend")
        XCTAssertEqual(lr_kernels_force("auto"), 0)
        XCTAssertEqual(String(cString: lr_kernels_backend()), best)
        #if arch(x86_64)
        XCTAssertEqual(lr_kernels_force("neon"), -1)
        #elseif arch(arm64)
        XCTAssertTrue(best == "neon" || best == "neon+dotprod", "aarch64 picked \(best)")
        #endif
    }

    func testVecDotsMatchScalar() throws {
        let backends = availableSIMDBackends()
        try XCTSkipIf(backends.isEmpty, "no SIMD backend on this CPU")
        var rng = KernelRNG(seed: 1)
        for backend in backends {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            for type in DotType.allCases {
                for n in [32, 64, 96, 576, 1536, 4096] {
                    for _ in 0..<5 {
                        let w = type.randomBlocks(n / 32, &rng)
                        let a = randomActivations(n / 32, &rng)
                        var ref: Float = 0, got: Float = 0
                        let mag = w.withUnsafeBufferPointer { wp in
                            a.withUnsafeBufferPointer { ap in
                                type.scalarDot(Int32(n), &ref, wp.baseAddress, ap.baseAddress)
                                type.dispatchedDot(Int32(n), &got, wp.baseAddress, ap.baseAddress)
                                return type.magnitude(weights: wp.baseAddress!, activations: ap.baseAddress!, count: n)
                            }
                        }
                        XCTAssertLessThanOrEqual(abs(Double(got) - Double(ref)), 1e-5 * mag,
                                                 "\(backend) \(type) n=\(n): \(got) vs \(ref)")
                    }
                }
            }
        }
    }

    func testGemmMatchesScalar() throws {
        let backends = availableSIMDBackends()
        try XCTSkipIf(backends.isEmpty, "no SIMD backend on this CPU")
        var rng = KernelRNG(seed: 2)
        let rows = 23, ld = 29
        let ranges = [(0, rows), (3, 20), (5, 7), (22, 23), (1, 6)]
        for backend in backends {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            for type in DotType.allCases {
                for k in [32, 96, 576, 1536] {
                    let nb = k / 32
                    let wrb = nb * type.blockBytes, arb = nb * 34
                    let w = type.randomBlocks(rows * nb, &rng)
                    let a = randomActivations(9 * nb, &rng)
                    var mags = [Double](repeating: 0, count: 9 * rows)
                    w.withUnsafeBufferPointer { wp in
                        a.withUnsafeBufferPointer { ap in
                            for t in 0..<9 {
                                for r in 0..<rows {
                                    mags[t * rows + r] = type.magnitude(weights: wp.baseAddress! + r * wrb,
                                                                        activations: ap.baseAddress! + t * arb, count: k)
                                }
                            }
                        }
                    }
                    for nTok in 1...9 {
                        for (r0, r1) in ranges {
                            var out = [Float](repeating: -1, count: 9 * ld)
                            var ref = out
                            w.withUnsafeBufferPointer { wp in
                                a.withUnsafeBufferPointer { ap in
                                    XCTAssertEqual(lr_gemm_q8(type.ggmlType, wp.baseAddress, wrb, Int32(r0), Int32(r1),
                                                              ap.baseAddress, arb, Int32(nTok), Int32(k), &out, ld), 0)
                                    XCTAssertEqual(lr_gemm_q8_scalar(type.ggmlType, wp.baseAddress, wrb, Int32(r0), Int32(r1),
                                                                     ap.baseAddress, arb, Int32(nTok), Int32(k), &ref, ld), 0)
                                    for t in 0..<9 {
                                        for r in 0..<ld {
                                            let i = t * ld + r
                                            guard t < nTok, r >= r0, r < r1 else {
                                                XCTAssertEqual(out[i], -1, "\(backend) wrote outside its range")
                                                continue
                                            }
                                            XCTAssertLessThanOrEqual(abs(Double(out[i]) - Double(ref[i])), 1e-5 * mags[t * rows + r],
                                                                     "\(backend) \(type) k=\(k) nTok=\(nTok) rows \(r0)..<\(r1) [\(t),\(r)]")
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// k = 32768 needs more scratch than the kernels keep on the stack (the heap path).
    func testGemmWithVeryLongRows() throws {
        let backends = availableSIMDBackends()
        try XCTSkipIf(backends.isEmpty, "no SIMD backend on this CPU")
        var rng = KernelRNG(seed: 6)
        let rows = 5, k = 32768, nTok = 3, nb = k / 32
        for backend in backends {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            for type in DotType.allCases {
                let w = type.randomBlocks(rows * nb, &rng)
                let a = randomActivations(nTok * nb, &rng)
                let wrb = nb * type.blockBytes, arb = nb * 34
                var out = [Float](repeating: 0, count: nTok * rows), ref = out
                w.withUnsafeBufferPointer { wp in
                    a.withUnsafeBufferPointer { ap in
                        XCTAssertEqual(lr_gemm_q8(type.ggmlType, wp.baseAddress, wrb, 0, Int32(rows), ap.baseAddress, arb,
                                                  Int32(nTok), Int32(k), &out, rows), 0)
                        XCTAssertEqual(lr_gemm_q8_scalar(type.ggmlType, wp.baseAddress, wrb, 0, Int32(rows), ap.baseAddress,
                                                         arb, Int32(nTok), Int32(k), &ref, rows), 0)
                        for t in 0..<nTok {
                            for r in 0..<rows {
                                let mag = type.magnitude(weights: wp.baseAddress! + r * wrb,
                                                         activations: ap.baseAddress! + t * arb, count: k)
                                XCTAssertLessThanOrEqual(abs(Double(out[t * rows + r]) - Double(ref[t * rows + r])), 1e-5 * mag,
                                                         "\(backend) \(type) [\(t),\(r)]")
                            }
                        }
                    }
                }
            }
        }
    }

    /// The f32-activation mat-mul (prompt batches on AVX2) against dequantize-then-dot in double:
    /// ragged row panels (16 rows), token tails (6 per microkernel), k across the 256-column blocks.
    func testF32ActivationGemmMatchesScalar() throws {
        var rng = KernelRNG(seed: 9)
        let rows = 37, ld = 41, maxTok = 14
        let ranges = [(0, rows), (3, 35), (16, 32), (36, 37), (5, 6)]
        var tested = 0
        for backend in ["scalar"] + availableSIMDBackends() {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            guard lr_gemm_f32a_min_batch() > 0 else {
                var out: Float = 0
                let w = [UInt8](repeating: 0, count: 34), a = [Float](repeating: 0, count: 32)
                XCTAssertEqual(lr_gemm_f32a(Int32(LR_TYPE_Q8_0), w, 34, 0, 1, a, 32, 1, 32, &out, 1), -1,
                               "\(backend) has no f32 path, so the call must say so")
                continue
            }
            for type in DotType.allCases {
                for k in [32, 96, 288, 576, 1536] {
                    let nb = k / 32, wrb = nb * type.blockBytes
                    let w = type.randomBlocks(rows * nb, &rng)
                    let a = (0..<(maxTok * k)).map { _ in rng.uniform(-2, 2) }
                    var deq = [Float](repeating: 0, count: rows * k)
                    w.withUnsafeBufferPointer { wp in
                        for r in 0..<rows { _ = lr_dequantize_row(type.ggmlType, wp.baseAddress! + r * wrb, &deq[r * k], Int64(k)) }
                    }
                    for nTok in [1, 2, 5, 6, 7, 12, 13, 14] {
                        for (r0, r1) in ranges {
                            var out = [Float](repeating: -1, count: maxTok * ld)
                            XCTAssertEqual(lr_gemm_f32a(type.ggmlType, w, wrb, Int32(r0), Int32(r1), a, k, Int32(nTok),
                                                        Int32(k), &out, ld), 0)
                            for t in 0..<maxTok {
                                for r in 0..<ld {
                                    let got = out[t * ld + r]
                                    guard t < nTok, r >= r0, r < r1 else {
                                        XCTAssertEqual(got, -1, "\(backend) wrote outside its range [\(t),\(r)]")
                                        continue
                                    }
                                    let (ref, mag) = referenceSum(k) { Double(deq[r * k + $0]) * Double(a[t * k + $0]) }
                                    XCTAssertLessThanOrEqual(abs(Double(got) - ref), 1e-5 * mag + 1e-30,
                                                             "\(backend) \(type) k=\(k) nTok=\(nTok) rows \(r0)..<\(r1) [\(t),\(r)]")
                                }
                            }
                        }
                    }
                    tested += 1
                }
            }
        }
        #if arch(x86_64)
        XCTAssertGreaterThan(tested, 0, "AVX2 machines run batches through the f32 path")
        #endif
        // The oracle itself agrees with the same double-precision sums.
        let w = DotType.q4_1.randomBlocks(2, &rng)
        let a = (0..<64).map { _ in rng.uniform(-1, 1) }
        var out: [Float] = [0], deq = [Float](repeating: 0, count: 64)
        XCTAssertEqual(lr_gemm_f32a_scalar(Int32(LR_TYPE_Q4_1), w, 40, 0, 1, a, 64, 1, 64, &out, 1), 0)
        _ = lr_dequantize_row(Int32(LR_TYPE_Q4_1), w, &deq, 64)
        let ref = zip(deq, a).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(Double(out[0]), ref, accuracy: 1e-5)
        XCTAssertEqual(lr_gemm_f32a_scalar(Int32(LR_TYPE_Q6_K), w, 40, 0, 1, a, 64, 1, 64, &out, 1), -1)
    }

    func testGemmRejectsBadArguments() {
        var out = [Float](repeating: 0, count: 4)
        let w = [UInt8](repeating: 0, count: 34 * 8)
        // IQ4_XS is re-packed at load (as IQ4_NL): no kernel takes its own blocks.
        XCTAssertEqual(lr_gemm_q8(Int32(LR_TYPE_IQ4_XS), w, 136, 0, 1, w, 34, 1, 256, &out, 1), -1)
        XCTAssertEqual(lr_gemm_q8(Int32(LR_TYPE_Q3_K), w, 110, 0, 1, w, 34, 1, 250, &out, 1), -1)  // k not whole super-blocks
        XCTAssertEqual(lr_gemm_q8(Int32(LR_TYPE_Q8_0), w, 34, 0, 1, w, 34, 1, 33, &out, 1), -1)
        XCTAssertEqual(lr_gemm_q8(Int32(LR_TYPE_Q8_0), w, 34, 2, 1, w, 34, 1, 32, &out, 1), -1)
    }

    func testActivationQuantizerMatchesReference() {
        var rng = KernelRNG(seed: 3)
        let n = 4096
        var x = (0..<n).map { _ in rng.uniform(-3, 3) }
        for b in 0..<8 {  // blocks of exact half steps (amax 127 gives d = 1): rounding ties
            x[b * 32] = 127
            for j in 1..<32 { x[b * 32 + j] = Float(Int(rng.next() % 254) - 127) + 0.5 }
        }
        for j in 0..<32 { x[8 * 32 + j] = 0 }
        var ref = [UInt8](repeating: 0, count: n / 32 * 34)
        lr_quantize_row_q8_0_ref(x, &ref, Int64(n))
        for backend in ["scalar"] + availableSIMDBackends() {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            var got = [UInt8](repeating: 0, count: n / 32 * 34)
            lr_quantize_row_q8_0(x, &got, Int64(n))
            XCTAssertEqual(got, ref, "\(backend) quantize_row_q8_0")
        }
    }

    func testGatedActivationsMatchScalar() {
        var rng = KernelRNG(seed: 11)
        let n = 1000 + 3
        let edges: [Float] = [0, -0.0, 1e-20, -1e-20, 87.5, -87.5, 88.5, -88.5, 1e4, -1e4, 1e25, -1e25]
        let g = (0..<n).map { $0 < edges.count ? edges[$0] : rng.uniform(-12, 12) }
        let u = (0..<n).map { _ in rng.uniform(-2, 2) }
        for backend in availableSIMDBackends() {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            for len in [1, 7, 8, 9, n] {
                var simd = g, scalar = g
                lr_swiglu(&simd, u, Int64(len))
                lr_swiglu_scalar(&scalar, u, Int64(len))
                for i in 0..<n {
                    XCTAssertLessThanOrEqual(abs(simd[i] - scalar[i]), 1e-6 * abs(scalar[i]) + 1e-30,
                                             "\(backend) swiglu g=\(g[i]) n=\(len)")
                }
                simd = g
                scalar = g
                lr_geglu(&simd, u, Int64(len))
                lr_geglu_scalar(&scalar, u, Int64(len))
                for i in 0..<n {
                    let slack = i < len ? 1e-7 * abs(g[i] * u[i]) : 0
                    XCTAssertLessThanOrEqual(abs(simd[i] - scalar[i]), 1e-6 * abs(scalar[i]) + slack + 1e-30,
                                             "\(backend) geglu g=\(g[i]) n=\(len)")
                }
            }
        }
    }

    /// One head's attention over an f16 cache: probabilities and output against the definition,
    /// on head sizes with and without a SIMD path and rows wider than the head.
    func testAttentionMatchesScalar() {
        var rng = KernelRNG(seed: 12)
        let stride = 200
        let positions = 300
        let k = (0..<(positions * stride)).map { _ in lr_f32_to_f16(rng.uniform(-1, 1)) }
        let v = (0..<(positions * stride)).map { _ in lr_f32_to_f16(rng.uniform(-1, 1)) }
        for backend in availableSIMDBackends() {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            for d in [64, 36, 128] {
                let q = (0..<d).map { _ in rng.uniform(-1, 1) }
                for n in [1, 9, positions] {
                    var p = [Float](repeating: 0, count: n), pRef = p
                    var out = [Float](repeating: 0, count: d), ref = out
                    lr_attend_f16(q, k, v, stride, Int32(n), Int32(d), 1 / Float(d).squareRoot(), &p, &out)
                    lr_attend_f16_scalar(q, k, v, stride, Int32(n), Int32(d), 1 / Float(d).squareRoot(), &pRef, &ref)
                    for s in 0..<n { XCTAssertEqual(p[s], pRef[s], accuracy: 1e-5 * max(pRef[s], 1e-3), "\(backend) d=\(d) n=\(n) p[\(s)]") }
                    for i in 0..<d { XCTAssertEqual(out[i], ref[i], accuracy: 1e-5, "\(backend) d=\(d) n=\(n) out[\(i)]") }
                }
            }
        }
    }

    func testRowConversionsMatchScalar() {
        var rng = KernelRNG(seed: 5)
        let n = 4099
        let f = (0..<n).map { i -> Float in
            if i % 101 == 0 { return Float(bitPattern: 0x7F80_0001 | UInt32(truncatingIfNeeded: rng.next()) & 0x7F_FFFF) }
            return Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
        }
        let h = (0..<n).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
        for backend in ["scalar"] + availableSIMDBackends() {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            var h2 = [UInt16](repeating: 0, count: n)
            var f2 = [Float](repeating: 0, count: n)
            lr_f32_to_f16_row(f, &h2, Int64(n))
            XCTAssertEqual(h2, f.map { lr_f32_to_f16($0) }, "\(backend) f32_to_f16_row")
            lr_f16_to_f32_row(h, &f2, Int64(n))
            XCTAssertEqual(f2.map(\.bitPattern), h.map { lr_f16_to_f32($0).bitPattern }, "\(backend) f16_to_f32_row")
            lr_f32_to_bf16_row(f, &h2, Int64(n))
            XCTAssertEqual(h2, f.map { lr_f32_to_bf16($0) }, "\(backend) f32_to_bf16_row")
            lr_bf16_to_f32_row(h, &f2, Int64(n))
            XCTAssertEqual(f2.map(\.bitPattern), h.map { lr_bf16_to_f32($0).bitPattern }, "\(backend) bf16_to_f32_row")
        }
    }
}
