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

/// Solves L L^T x = b in place (b becomes x).
void lr_cholesky_solve_f64(const double *l, int n, double *b);

/// Removes index j from an inverse: a[i][k] -= a[i][j] * a[j][k] / a[j][j] for i, k in `keep`
/// (the Schur complement: the inverse of the matrix without row and column j).
void lr_inverse_downdate_f64(double *a, int n, const int32_t *keep, int nkeep, int j);

#ifdef __cplusplus
}
#endif

#endif
