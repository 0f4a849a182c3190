import CKernels
import LLMRuntime
import XCTest

/// The refit's f32 products: our packed kernel (over row ranges, as threads split it) and the
/// dispatching entry point (the system BLAS where installed) against a plain triple loop, for
/// every transpose combination, with edges that are not whole tiles.
final class SgemmTests: XCTestCase {
    func testEveryTransposeMatchesTheReference() {
        var rng = SplitMix64(seed: 7)
        let m = 37, n = 45, k = 300  // k spans two packed panels
        for ta in [false, true] {
            for tb in [false, true] {
                let a = (0..<(m * k)).map { _ in Float(rng.nextUnitDouble()) - 0.5 }
                let b = (0..<(k * n)).map { _ in Float(rng.nextUnitDouble()) - 0.5 }
                let c0 = (0..<(m * n)).map { _ in Float(rng.nextUnitDouble()) - 0.5 }
                let lda = ta ? m : k, ldb = tb ? k : n
                var expected = [Float](repeating: 0, count: m * n)
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k {
                            let x = ta ? a[p * lda + i] : a[i * lda + p]
                            let y = tb ? b[j * ldb + p] : b[p * ldb + j]
                            s += Double(x) * Double(y)
                        }
                        expected[i * n + j] = Float(0.5 * s) + 2 * c0[i * n + j]
                    }
                }
                var own = c0, dispatched = c0
                // Rows split at 0..13 and 13..m, as two threads would take them.
                for (lo, hi) in [(0, 13), (13, m)] {
                    lr_sgemm_rows(ta ? 1 : 0, tb ? 1 : 0, Int32(lo), Int32(hi), Int32(n), Int32(k), 0.5, a, lda, b, ldb, 2, &own, n)
                }
                lr_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), 0.5, a, lda, b, ldb, 2, &dispatched, n)
                for i in 0..<(m * n) {
                    XCTAssertEqual(own[i], expected[i], accuracy: 1e-4, "ta \(ta) tb \(tb) at \(i)")
                    XCTAssertEqual(dispatched[i], expected[i], accuracy: 1e-4, "ta \(ta) tb \(tb) at \(i) (blas: \(lr_sgemm_blas_available()))")
                }
            }
        }
    }
}
