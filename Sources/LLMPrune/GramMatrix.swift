import CKernels
import LLMRuntime

/// XᵀX (and XᵀY) of activations or weights in f64, computed in tiles spread over the thread pool.
enum GramMatrix {
    /// `x` is (rows, n) row-major with leading dimension `ld`; returns (n, n).
    static func compute(_ x: UnsafePointer<Float>, rows: Int, n: Int, ld: Int, pool: ThreadPool) -> [Double] {
        var out = [Double](repeating: 0, count: n * n)
        let tile = 64
        let tiles = (n + tile - 1) / tile
        // Upper-triangle tile pairs only; mirrored afterwards.
        var pairs: [(Int, Int)] = []
        for i in 0..<tiles { for j in i..<tiles { pairs.append((i, j)) } }
        out.withUnsafeMutableBufferPointer { o in
            let base = o.baseAddress!
            pool.parallelFor(pairs.count) { p, _ in
                let (ti, tj) = pairs[p]
                lr_gram_tile_f32(x, Int32(rows), ld, Int32(ti * tile), Int32(min(n, ti * tile + tile)),
                                 Int32(tj * tile), Int32(min(n, tj * tile + tile)), base, n)
            }
        }
        for i in 0..<n { for j in 0..<i { out[i * n + j] = out[j * n + i] } }
        return out
    }

    /// XᵀY: `x` is (rows, n) with leading dimension `ldx`, `y` is (rows, m) with `ldy`;
    /// returns (n, m) row-major.
    static func cross(_ x: UnsafePointer<Float>, ldx: Int, _ y: UnsafePointer<Float>, ldy: Int,
                      rows: Int, n: Int, m: Int, pool: ThreadPool) -> [Double] {
        var out = [Double](repeating: 0, count: n * m)
        let tile = 64
        let ti = (n + tile - 1) / tile, tj = (m + tile - 1) / tile
        out.withUnsafeMutableBufferPointer { o in
            let base = o.baseAddress!
            pool.parallelFor(ti * tj) { p, _ in
                let i = p / tj, j = p % tj
                lr_cross_tile_f32(x, ldx, y, ldy, Int32(rows), Int32(i * tile), Int32(min(n, i * tile + tile)),
                                  Int32(j * tile), Int32(min(m, j * tile + tile)), base, m)
            }
        }
        return out
    }
}

/// Per-column statistics of activations.
struct ColumnStatistics {
    var mean: [Double]
    var sumOfSquares: [Double]
    var rows: Int

    init(_ x: Activations, columns: Int) {
        mean = [Double](repeating: 0, count: columns)
        sumOfSquares = [Double](repeating: 0, count: columns)
        rows = x.rows
        for r in 0..<x.rows {
            let p = x.row(r)
            for c in 0..<columns {
                let v = Double(p[c])
                mean[c] += v
                sumOfSquares[c] += v * v
            }
        }
        for c in 0..<columns { mean[c] /= Double(max(rows, 1)) }
    }

    /// Means of columns `from..<from+count`.
    func columnMeans(from lo: Int, count n: Int) -> [Double] { Array(mean[lo..<(lo + n)]) }

    func norm(_ c: Int) -> Double { sumOfSquares[c].squareRoot() }
    func variance(_ c: Int) -> Double { max(0, sumOfSquares[c] / Double(max(rows, 1)) - mean[c] * mean[c]) }
}
