import CKernels
import LLMRuntime

/// Row-major f32 products `C = op(A)·op(B) + beta·C` for the block refit: the system OpenBLAS
/// when it is installed (it threads itself), else our packed kernel with rows split over the pool.
/// `m × k` is op(A)'s shape and `k × n` op(B)'s.
enum Sgemm {
    static let blas = lr_sgemm_blas_available() != 0

    static func multiply(_ a: UnsafePointer<Float>, transposeA ta: Bool = false, lda: Int,
                         _ b: UnsafePointer<Float>, transposeB tb: Bool = false, ldb: Int,
                         m: Int, n: Int, k: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
                         beta: Float = 0, pool: ThreadPool?) {
        guard m > 0, n > 0 else { return }
        if blas || pool == nil || m < 64 {
            lr_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a, lda, b, ldb, beta, c, ldc)
            return
        }
        let pool = pool!
        let parts = min(pool.threadCount * 2, m / 16)
        pool.parallelFor(parts) { p, _ in
            // Whole 4-row tiles per part.
            let lo = (m * p / parts) / 4 * 4, hi = p == parts - 1 ? m : (m * (p + 1) / parts) / 4 * 4
            lr_sgemm_rows(ta ? 1 : 0, tb ? 1 : 0, Int32(lo), Int32(hi), Int32(n), Int32(k), 1, a, lda, b, ldb, beta, c, ldc)
        }
    }

    /// Has the BLAS use this many threads (the pool's count: the pruner's other work is idle
    /// while the refit runs).
    static func setThreads(_ n: Int) { lr_sgemm_set_threads(Int32(n)) }
}
