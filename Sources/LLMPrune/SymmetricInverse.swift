import CKernels
import LLMRuntime

/// The inverse of a symmetric positive definite matrix through its Cholesky factor, with the
/// O(n³) stages split over a thread pool: the factor by column blocks (the diagonal block on one
/// thread, the rows below it in parallel), then the columns of L⁻¹ and the rows of L⁻ᵀL⁻¹, each
/// independent of the others.
enum SymmetricInverse {
    /// Column block of the factorisation: one parallel region per block.
    static let block = 64

    /// Overwrites `a` (n × n, row-major) with A⁻¹. Returns false, leaving `a` garbled, when A is
    /// not positive definite. `scratch` has room for n × n.
    static func invert(_ a: UnsafeMutablePointer<Double>, n: Int, scratch: UnsafeMutablePointer<Double>,
                       pool: ThreadPool?) -> Bool {
        guard let pool, pool.threadCount > 1, n >= 2 * block else {
            guard lr_cholesky_f64(a, Int32(n)) == 0 else { return false }
            lr_cholesky_inverse_f64(a, Int32(n), scratch)
            return true
        }
        let n32 = Int32(n)
        for j0 in stride(from: 0, to: n, by: block) {
            let j1 = min(n, j0 + block)
            guard lr_cholesky_rows_f64(a, n32, Int32(j0), Int32(j1), Int32(j0), Int32(j1)) == 0 else { return false }
            let below = n - j1
            guard below > 0 else { continue }
            // Rows below the diagonal block hold no pivots, so they cannot fail.
            let parts = min(pool.threadCount * 2, below)
            let per = (below + parts - 1) / parts
            pool.parallelFor(parts) { p, _ in
                let lo = j1 + p * per, hi = min(n, lo + per)
                if lo < hi { _ = lr_cholesky_rows_f64(a, n32, Int32(lo), Int32(hi), Int32(j0), Int32(j1)) }
            }
        }
        // Rows of differing cost (column k of L⁻¹ costs ~(n−k)²) are dealt out in turn.
        let parts = pool.threadCount * 8
        pool.parallelFor(parts) { p, _ in lr_cholesky_inverse_cols_f64(a, n32, scratch, Int32(p), Int32(parts)) }
        pool.parallelFor(parts) { p, _ in lr_inverse_from_wt_rows_f64(scratch, n32, a, Int32(p), Int32(parts)) }
        lr_symmetrize_lower_f64(a, n32)
        return true
    }
}
