import XCTest
import CKernels
@testable import LLMPrune
import LLMRuntime

final class MaskTunerTests: XCTestCase {
    /// Units as columns of Z (tokens x units); G = ZᵀZ, c = Zᵀy with y = Z·1 (the dense output).
    private func system(_ z: [[Double]]) -> UnitSystem {
        let n = z[0].count, rows = z.count
        var g = [Double](repeating: 0, count: n * n)
        for r in 0..<rows { for i in 0..<n { for j in 0..<n { g[i * n + j] += z[r][i] * z[r][j] } } }
        return UnitSystem(gram: g, n: n)
    }

    func testRemovesTheUnitOthersCanReplaceAndRetunesMasks() {
        // Unit 3 = 2 x unit 0: removing it costs nothing once unit 0's mask becomes 3.
        var rng = SplitMix64(seed: 1)
        let rows = 200
        var z: [[Double]] = []
        for _ in 0..<rows {
            let a = Double.random(in: -1...1, using: &rng), b = Double.random(in: -1...1, using: &rng)
            let c = Double.random(in: -1...1, using: &rng)
            z.append([a, b, c, 2 * a])
        }
        let r = MaskTuner.eliminate(system(z), keep: 3, ridge: 1e-9, stepFraction: 0, maskVarianceBound: 10)
        // One of the twins goes (either is free) and the other's mask takes over its share.
        XCTAssertEqual(r.kept.count, 3)
        XCTAssertTrue([0, 3].contains(r.removed[0].unit))
        XCTAssertEqual(r.removed[0].cost, 0, accuracy: 1e-6)
        XCTAssertTrue(r.kept.contains(1) && r.kept.contains(2))
        // The masked sum of the kept units reproduces the dense output exactly.
        for row in z {
            let dense = row.reduce(0, +)
            let pruned = zip(r.kept, r.masks).reduce(0.0) { $0 + row[$1.0] * $1.1 }
            XCTAssertEqual(pruned, dense, accuracy: 1e-6)
        }
    }

    /// Random activations H (tokens, n) and columns W (rows, n), as the MLP's down projection sees them.
    private func randomLayer(tokens: Int, n: Int, rows: Int) -> (h: [Float], w: [Float]) {
        var rng = SplitMix64(seed: 2)
        return ((0..<(tokens * n)).map { _ in Float.random(in: -1...1, using: &rng) },
                (0..<(rows * n)).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    /// With the stream target, the masks reach a drift that is a per-channel rescaling of the
    /// dense output (masks 1 + s); a huge ridge holds them at 1 (the dense layer), not at 0.
    func testDriftTargetAndRidgeTowardOne() {
        let tokens = 300, n = 12, rows = 7
        let (h, w) = randomLayer(tokens: tokens, n: n, rows: rows)
        let s = (0..<n).map { Double($0 % 5) * 0.1 - 0.2 }
        // D_t = Σ_j s_j h_t,j W_:,j
        var drift = [Float](repeating: 0, count: tokens * rows)
        for t in 0..<tokens { for d in 0..<rows { for j in 0..<n { drift[t * rows + d] += Float(s[j]) * h[t * n + j] * w[d * n + j] } } }
        var g = [Double](repeating: 0, count: n * n), htd = [Double](repeating: 0, count: n * rows)
        for i in 0..<n {
            for j in 0..<n {
                var hh = 0.0, ww = 0.0
                for t in 0..<tokens { hh += Double(h[t * n + i] * h[t * n + j]) }
                for d in 0..<rows { ww += Double(w[d * n + i] * w[d * n + j]) }
                g[i * n + j] = hh * ww
            }
            for d in 0..<rows { for t in 0..<tokens { htd[i * rows + d] += Double(h[t * n + i] * drift[t * rows + d]) } }
        }
        var system = UnitSystem(gram: g, n: n)
        w.withUnsafeBufferPointer { system.addDrift(columns: $0.baseAddress!, ld: n, rows: rows, crossProducts: htd) }
        let fit = MaskTuner.eliminate(system, keep: n, ridge: 1e-9, stepFraction: 0, maskVarianceBound: .infinity)
        for j in 0..<n { XCTAssertEqual(fit.masks[j], 1 + s[j], accuracy: 1e-3) }
        let held = MaskTuner.eliminate(system, keep: n, ridge: 1e5, stepFraction: 0, maskVarianceBound: .infinity)
        for j in 0..<n { XCTAssertEqual(held.masks[j], 1, accuracy: 1e-3) }
    }

    /// Re-fitting toward W·H + D with D in the span of H's columns (D = H·M) moves W to W + Mᵀ.
    func testRefitCorrectionReachesTargetInSpan() {
        let tokens = 200, n = 10, rows = 6
        let (h, w) = randomLayer(tokens: tokens, n: n, rows: rows)
        let m = (0..<(n * rows)).map { Double(($0 * 7) % 11) * 0.05 - 0.25 }  // (n, rows)
        var g = [Double](repeating: 0, count: n * n), htd = [Double](repeating: 0, count: n * rows)
        for i in 0..<n {
            for j in 0..<n { for t in 0..<tokens { g[i * n + j] += Double(h[t * n + i] * h[t * n + j]) } }
        }
        // Hᵀ·D = Hᵀ·H·M = G·M
        for i in 0..<n { for d in 0..<rows { for k in 0..<n { htd[i * rows + d] += g[i * n + k] * m[k * rows + d] } } }
        let r = ColumnRefit.prune(gram: g, weights: w, rows: rows, n: n, keep: n, granularity: 1, ridge: 1e-10,
                                  stepFraction: 0.1, correction: htd)
        XCTAssertEqual(r.kept, Array(0..<n))
        for d in 0..<rows {
            for j in 0..<n { XCTAssertEqual(Double(r.weights[d * n + j]), Double(w[d * n + j]) + m[j * rows + d], accuracy: 1e-4) }
        }
    }

    func testKeepsTheUnitThatCannotBeReplaced() {
        // Unit 0 is large and independent; units 1 and 2 are near copies of each other.
        var z: [[Double]] = []
        for i in 0..<100 {
            let t = Double(i) / 10
            z.append([5 * sin(t), cos(t), cos(t) * 1.001 + 0.0001 * sin(3 * t)])
        }
        let r = MaskTuner.eliminate(system(z), keep: 2, ridge: 1e-9, stepFraction: 0, maskVarianceBound: 10)
        XCTAssertTrue(r.kept.contains(0))
        XCTAssertEqual(r.kept.count, 2)
        // The survivor of the pair takes over the other's share.
        XCTAssertEqual(r.masks[1], 2, accuracy: 0.05)
    }

    func testGranularityAndEarlyStop() {
        var z: [[Double]] = []
        for i in 0..<400 { z.append((0..<96).map { j in sin(Double(i * (j + 1)) * 0.37) }) }
        let g = MaskTuner.eliminate(system(z), keep: 32, granularity: 32, ridge: 1e-6, stepFraction: 0.1, maskVarianceBound: 100)
        XCTAssertEqual(g.kept.count, 32)
        // A tight variance bound stops before the target, at a multiple of the granularity.
        let tight = MaskTuner.eliminate(system(z), keep: 32, granularity: 32, ridge: 1e-6, stepFraction: 0.1, maskVarianceBound: 1e-9)
        XCTAssertTrue(tight.stoppedEarly)
        XCTAssertEqual(tight.kept.count % 32, 0)
        XCTAssertGreaterThan(tight.kept.count, 32)
    }

    func testCholeskyInverseAndDowndate() {
        let n = 5
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { a[i * n + j] = 1 / Double(i + j + 1) } ; a[i * n + i] += 1 }
        let inv = MaskTuner.regularizedInverse(a, n: n, ridge: 0).inverse
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += a[i * n + k] * inv[k * n + j] }
                XCTAssertEqual(s, i == j ? 1 : 0, accuracy: 1e-9)
            }
        }
        // Downdating index 2 gives the inverse of the matrix without row/column 2.
        var d = inv
        let keep: [Int32] = [0, 1, 3, 4]
        d.withUnsafeMutableBufferPointer { lr_inverse_downdate_f64($0.baseAddress!, Int32(n), keep, 4, 2) }
        var sub = [Double]()
        for i in keep { for j in keep { sub.append(a[Int(i) * n + Int(j)]) } }
        let direct = MaskTuner.regularizedInverse(sub, n: 4, ridge: 0).inverse
        for (p, i) in keep.enumerated() {
            for (q, j) in keep.enumerated() { XCTAssertEqual(d[Int(i) * n + Int(j)], direct[p * 4 + q], accuracy: 1e-9) }
        }
    }

    /// A = B Bᵀ/n + d·I for a random B: dense, symmetric, and positive definite (well conditioned).
    private func randomPositiveDefinite(_ n: Int, diagonal d: Double) -> [Double] {
        var rng = SplitMix64(seed: 3)
        let b = (0..<(n * n)).map { _ in Double.random(in: -1...1, using: &rng) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = 0.0
                for k in 0..<n { s += b[i * n + k] * b[j * n + k] }
                a[i * n + j] = s / Double(n) + (i == j ? d : 0)
                a[j * n + i] = a[i * n + j]
            }
        }
        return a
    }

    /// Removing a block of units at once (one Schur complement) leaves the inverse of the matrix
    /// without them, as removing them one by one does; with and without the pool.
    func testBlockDowndateMatchesOneByOne() {
        let n = 150
        let a = randomPositiveDefinite(n, diagonal: 0.5)
        let inv = MaskTuner.regularizedInverse(a, n: n, ridge: 0).inverse
        let drop = [3, 77, 10, 149, 64, 65, 0]  // unsorted, adjacent, both ends; 7 = 4 + 3 rows
        let keep = (0..<n).filter { !drop.contains($0) }
        var sequential = inv
        var rest = Set(0..<n)
        for j in drop {
            rest.remove(j)
            MaskTuner.downdate(&sequential, n: n, keep: rest.sorted().map(Int32.init), removing: j, pool: nil)
        }
        var sub = [Double]()
        for i in keep { for j in keep { sub.append(a[i * n + j]) } }
        let direct = MaskTuner.regularizedInverse(sub, n: keep.count, ridge: 0).inverse
        for pool in [nil, ThreadPool(threadCount: 2)] {
            var block = inv
            MaskTuner.downdate(&block, n: n, keep: keep.map(Int32.init), removing: drop, pool: pool)
            for (p, i) in keep.enumerated() {
                for (q, j) in keep.enumerated() {
                    XCTAssertEqual(block[i * n + j], sequential[i * n + j], accuracy: 1e-9)
                    XCTAssertEqual(block[i * n + j], direct[p * keep.count + q], accuracy: 1e-8)
                }
            }
        }
    }

    /// The pooled inverse (column-block Cholesky, parallel L⁻¹ columns and W^T W rows) gives the
    /// same matrix as the single-threaded one, and A·A⁻¹ = I; a matrix that is not positive
    /// definite is reported on either path.
    func testParallelInverseMatchesSerial() {
        let n = 203  // more than two column blocks, not a multiple of one
        let a = randomPositiveDefinite(n, diagonal: 1)
        let pool = ThreadPool(threadCount: 2)
        var serial = a, pooled = a
        var scratch = [Double](repeating: 0, count: n * n)
        let okSerial = serial.withUnsafeMutableBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { SymmetricInverse.invert(p.baseAddress!, n: n, scratch: $0.baseAddress!, pool: nil) }
        }
        let okPooled = pooled.withUnsafeMutableBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { SymmetricInverse.invert(p.baseAddress!, n: n, scratch: $0.baseAddress!, pool: pool) }
        }
        XCTAssertTrue(okSerial && okPooled)
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<n {
                XCTAssertEqual(pooled[i * n + j], serial[i * n + j], accuracy: 1e-10)
                var s = 0.0
                for k in 0..<n { s += a[i * n + k] * pooled[k * n + j] }
                worst = max(worst, abs(s - (i == j ? 1 : 0)))
            }
        }
        XCTAssertLessThan(worst, 1e-9)
        var indefinite = a
        indefinite[150 * n + 150] = -5
        let bad = indefinite.withUnsafeMutableBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { SymmetricInverse.invert(p.baseAddress!, n: n, scratch: $0.baseAddress!, pool: pool) }
        }
        XCTAssertFalse(bad)
    }

    func testByteSizes() {
        XCTAssertEqual(ByteSize(parsing: "2GB")?.bytes, 2_000_000_000)
        XCTAssertEqual(ByteSize(parsing: "1.5GiB")?.bytes, 1_610_612_736)
        XCTAssertEqual(ByteSize(parsing: "512MiB")?.bytes, 536_870_912)
        XCTAssertEqual(ByteSize(parsing: "100MB")?.bytes, 100_000_000)
        XCTAssertEqual(ByteSize(parsing: "12345")?.bytes, 12345)
        XCTAssertNil(ByteSize(parsing: "lots"))
        XCTAssertNil(ByteSize(parsing: "-1GB"))
    }
}

final class MaskTuningResultTests: XCTestCase {
    /// What the bias makes up: a removed unit's whole mean output, a kept unit's 1 − mask of it.
    func testLeftOutShares() {
        let r = MaskTuningResult(kept: [0, 2], masks: [1.25, 0.5], removed: [(unit: 1, cost: 0), (unit: 3, cost: 0)], stoppedEarly: false)
        XCTAssertEqual(r.leftOutShares(of: 4), [-0.25, 1, 0.5, 1])
    }
}
