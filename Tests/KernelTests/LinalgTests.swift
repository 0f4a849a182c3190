import CKernels
import XCTest

/// The pruner's cross-product tiles (AVX2 microkernel where available, portable loops for the
/// column remainder and elsewhere) against sums in double.
final class LinalgTests: XCTestCase {
    override func tearDown() {
        _ = lr_kernels_force("auto")
        super.tearDown()
    }

    /// Every backend: the scalar one runs the portable loops alone, AVX2 its microkernel too.
    func testCrossTileMatchesDoubleSums() {
        for backend in ["scalar"] + availableSIMDBackends() {
            XCTAssertEqual(lr_kernels_force(backend), 0)
            checkCrossTile(backend)
        }
    }

    private func checkCrossTile(_ backend: String) {
        var rng = KernelRNG(seed: 11)
        let rows = 531, ldx = 45, ldy = 51  // rows span several 256-row blocks, unevenly
        let x = (0..<(rows * ldx)).map { _ in rng.uniform(-1, 1) }
        let y = (0..<(rows * ldy)).map { _ in rng.uniform(-1, 1) }
        // (i0, i1, j0, j1): full 16-column groups, remainders, single columns, 6-row tails.
        for (i0, i1, j0, j1) in [(0, 45, 0, 51), (3, 10, 5, 37), (44, 45, 50, 51), (7, 20, 16, 32), (0, 1, 0, 17)] {
            var out = [Double](repeating: 0.5, count: ldx * ldy)  // accumulates onto what is there
            lr_cross_tile_f32(x, ldx, y, ldy, Int32(rows), Int32(i0), Int32(i1), Int32(j0), Int32(j1), &out, ldy)
            for i in 0..<ldx {
                for j in 0..<ldy {
                    let got = out[i * ldy + j]
                    guard i >= i0, i < i1, j >= j0, j < j1 else {
                        XCTAssertEqual(got, 0.5, "\(backend) wrote outside its tile at [\(i),\(j)]")
                        continue
                    }
                    let (ref, mag) = referenceSum(rows, startingAt: 0.5) { Double(x[$0 * ldx + i]) * Double(y[$0 * ldy + j]) }
                    XCTAssertEqual(got, ref, accuracy: 1e-5 * mag, "\(backend) tile \(i0)..<\(i1) x \(j0)..<\(j1) at [\(i),\(j)]")
                }
            }
        }
    }

    func testGramTileIsCrossOfItself() {
        var rng = KernelRNG(seed: 12)
        let rows = 300, n = 40
        let x = (0..<(rows * n)).map { _ in rng.uniform(-2, 2) }
        var gram = [Double](repeating: 0, count: n * n), cross = gram
        lr_gram_tile_f32(x, Int32(rows), n, 0, Int32(n), 0, Int32(n), &gram, n)
        lr_cross_tile_f32(x, n, x, n, Int32(rows), 0, Int32(n), 0, Int32(n), &cross, n)
        XCTAssertEqual(gram, cross)
        // Mirror entries are summed by different code paths (16-column groups, remainder loops), so
        // they agree to f32 rounding: |Σ x_i x_j| is at most sqrt(G_ii G_jj).
        for i in 0..<n {
            for j in 0..<i {
                XCTAssertEqual(gram[i * n + j], gram[j * n + i], accuracy: 1e-5 * (gram[i * n + i] * gram[j * n + j]).squareRoot())
            }
        }
    }
}
