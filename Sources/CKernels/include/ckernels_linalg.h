// Dense linear algebra for the pruner's least-squares systems: Gram matrices of activations
// and Cholesky-based solves. Plain C loops, compiled for AVX2 as well as the baseline and picked
// at load (target_clones), so they vectorize without model code knowing about CPUs.
#ifndef LR_CKERNELS_LINALG_H
#define LR_CKERNELS_LINALG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// out[i * ldo + j] += sum_r x[r * ldx + i] * x[r * ldx + j] for i in [i0, i1), j in [j0, j1),
/// r in [0, rows). Products are summed in f32 over blocks of rows and then added in f64.
/// Threads split the work by tiles (disjoint i/j ranges).
void lr_gram_tile_f32(const float *x, int rows, size_t ldx, int i0, int i1, int j0, int j1,
                      double *out, size_t ldo);

/// out[i * ldo + j] += sum_r x[r * ldx + i] * y[r * ldy + j] (cross products, same tiling).
void lr_cross_tile_f32(const float *x, size_t ldx, const float *y, size_t ldy, int rows,
                       int i0, int i1, int j0, int j1, double *out, size_t ldo);

/// In-place Cholesky factorisation A = L L^T of a symmetric positive definite n x n matrix
/// (row-major, lower triangle used and overwritten; the upper triangle is zeroed).
/// Returns 0, or the 1-based index of the first non-positive pivot.
int lr_cholesky_f64(double *a, int n);

/// Given the Cholesky factor L (as left by lr_cholesky_f64), overwrites it with A^-1 (full,
/// symmetric). Uses n x n of scratch.
void lr_cholesky_inverse_f64(double *l, int n, double *scratch);

// The same two steps in pieces that threads can share (the caller runs the pieces of one stage
// on disjoint rows and waits for all before the next stage):
/// Cholesky entries of rows [i0, i1) in columns [j0, j1), given every entry of those rows in
/// columns < j0 and every entry of rows < i1 up to column j1 that the formula reads. Run
/// column blocks in order: for a block [j0, j1), first rows [j0, j1) (the diagonal block, one
/// thread), then rows [j1, n) split among threads. Returns 0 or the 1-based failing pivot.
/// The upper triangle is left as it was (lr_cholesky_f64 zeroes it; the inverse ignores it).
int lr_cholesky_rows_f64(double *a, int n, int i0, int i1, int j0, int j1);
/// Rows k = first, first + step, ... of W^T, where W = L^-1 (L lower triangular, as above).
void lr_cholesky_inverse_cols_f64(const double *l, int n, double *wt, int first, int step);
/// Lower-triangle rows i = first, first + step, ... of A^-1 = W^T W, from W^T.
void lr_inverse_from_wt_rows_f64(const double *wt, int n, double *out, int first, int step);
/// Copies the lower triangle onto the upper one.
void lr_symmetrize_lower_f64(double *a, int n);

/// Solves L L^T x = b in place (b becomes x).
void lr_cholesky_solve_f64(const double *l, int n, double *b);

/// Removes index j from an inverse: a[i][k] -= a[i][j] * a[j][k] / a[j][j] for i, k in `keep`
/// (the Schur complement: the inverse of the matrix without row and column j).
void lr_inverse_downdate_f64(double *a, int n, const int32_t *keep, int nkeep, int j);

/// Removes the indices `drop` (nd of them) at once, the block form of the above:
/// a[i][:] -= a[i][drop] · C⁻¹ · a[drop][:] for i in `keep`, where `cinv` = C⁻¹ is the inverse
/// of a[drop][drop] (nd x nd, row-major) and `u` is nd doubles of scratch. Rows in `keep` may be
/// split among threads (each with its own `u`); rows in `drop` are only read.
void lr_inverse_downdate_block_f64(double *a, int n, const int32_t *keep, int nkeep, const int32_t *drop, int nd,
                                   const double *cinv, double *u);

#ifdef __cplusplus
}
#endif

#endif
