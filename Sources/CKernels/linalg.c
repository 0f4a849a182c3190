// Dense linear algebra for the pruner (see ckernels_linalg.h).
#include "ckernels_linalg.h"
#include "kernels_internal.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#define LR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LR_CLONES
#endif

// Columns of the output tile handled per pass: the accumulators (TI x TJ floats) and one
// row segment of x stay in L1 while all rows stream past.
enum { TI = 8, TJ = 128, ROW_BLOCK = 256 };

/// The portable loops: sums kept in an L1 array, vectorized by the compiler.
LR_CLONES
static void cross_tile_loops(const float *x, size_t ldx, const float *y, size_t ldy, int rows,
                             int i0, int i1, int j0, int j1, double *out, size_t ldo) {
    float acc[TI][TJ];
    for (int ib = i0; ib < i1; ib += TI) {
        int ni = i1 - ib < TI ? i1 - ib : TI;
        for (int jb = j0; jb < j1; jb += TJ) {
            int nj = j1 - jb < TJ ? j1 - jb : TJ;
            for (int r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
                int r1 = r0 + ROW_BLOCK < rows ? r0 + ROW_BLOCK : rows;
                memset(acc, 0, sizeof acc);
                for (int r = r0; r < r1; r++) {
                    const float *xr = x + (size_t)r * ldx + ib;
                    const float *yr = y + (size_t)r * ldy + jb;
                    for (int ii = 0; ii < ni; ii++) {
                        float a = xr[ii];
                        float *accrow = acc[ii];
                        for (int jj = 0; jj < nj; jj++) accrow[jj] += a * yr[jj];
                    }
                }
                for (int ii = 0; ii < ni; ii++) {
                    double *o = out + (size_t)(ib + ii) * ldo + jb;
                    for (int jj = 0; jj < nj; jj++) o[jj] += (double)acc[ii][jj];
                }
            }
        }
    }
}


void lr_cross_tile_f32_portable(const float *x, size_t ldx, const float *y, size_t ldy, int rows, int i0, int i1,
                                int j0, int j1, double *out, size_t ldo) {
    cross_tile_loops(x, ldx, y, ldy, rows, i0, i1, j0, j1, out, ldo);
}

void lr_gram_tile_f32(const float *x, int rows, size_t ldx, int i0, int i1, int j0, int j1,
                      double *out, size_t ldo) {
    lr_cross_tile_f32(x, ldx, x, ldx, rows, i0, i1, j0, j1, out, ldo);
}

/// sum x[k] * y[k]: four partial sums, so the compiler can keep them in one vector register
/// (a single running sum would forbid reordering the adds and stay scalar).
static inline double dot_f64(const double *x, const double *y, int n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += x[k] * y[k];
        s1 += x[k + 1] * y[k + 1];
        s2 += x[k + 2] * y[k + 2];
        s3 += x[k + 3] * y[k + 3];
    }
    for (; k < n; k++) s0 += x[k] * y[k];
    return (s0 + s2) + (s1 + s3);
}

LR_CLONES
int lr_cholesky_rows_f64(double *a, int n, int i0, int i1, int j0, int j1) {
    // Row-oriented (Cholesky–Banachiewicz): L[i][j] from the prefixes of rows i and j, contiguous.
    for (int i = i0; i < i1; i++) {
        double *ai = a + (size_t)i * n;
        const int jend = j1 < i + 1 ? j1 : i + 1;
        for (int j = j0; j < jend; j++) {
            const double *aj = a + (size_t)j * n;
            const double s = ai[j] - dot_f64(ai, aj, j);
            if (i == j) {
                if (!(s > 0)) return i + 1;
                ai[i] = sqrt(s);
            } else {
                ai[j] = s / aj[j];
            }
        }
    }
    return 0;
}

int lr_cholesky_f64(double *a, int n) {
    int rc = lr_cholesky_rows_f64(a, n, 0, n, 0, n);
    if (rc != 0) return rc;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) a[(size_t)i * n + j] = 0;
    return 0;
}

LR_CLONES
void lr_cholesky_inverse_cols_f64(const double *l, int n, double *wt, int first, int step) {
    // Column k of W = L^-1 solves L w = e_k by forward substitution; it is stored as row k of
    // W^T so every dot product reads contiguous memory.
    for (int k = first; k < n; k += step) {
        double *x = wt + (size_t)k * n;
        for (int i = 0; i < k; i++) x[i] = 0;
        x[k] = 1.0 / l[(size_t)k * n + k];
        for (int i = k + 1; i < n; i++) {
            const double *li = l + (size_t)i * n;
            x[i] = -dot_f64(li + k, x + k, i - k) / li[i];
        }
    }
}

LR_CLONES
void lr_inverse_from_wt_rows_f64(const double *wt, int n, double *out, int first, int step) {
    // A^-1 = W^T W: entry (i, j), j <= i, sums over r >= i of W[r][i] W[r][j] = rows i and j of W^T.
    for (int i = first; i < n; i += step) {
        const double *wi = wt + (size_t)i * n;
        double *oi = out + (size_t)i * n;
        for (int j = 0; j <= i; j++) oi[j] = dot_f64(wi + i, wt + (size_t)j * n + i, n - i);
    }
}

void lr_symmetrize_lower_f64(double *a, int n) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < i; k++) a[(size_t)k * n + i] = a[(size_t)i * n + k];
}

void lr_cholesky_inverse_f64(double *l, int n, double *w) {
    lr_cholesky_inverse_cols_f64(l, n, w, 0, 1);
    lr_inverse_from_wt_rows_f64(w, n, l, 0, 1);
    lr_symmetrize_lower_f64(l, n);
}

void lr_cholesky_solve_f64(const double *l, int n, double *b) {
    for (int i = 0; i < n; i++) {
        const double *li = l + (size_t)i * n;
        double s = b[i];
        for (int k = 0; k < i; k++) s -= li[k] * b[k];
        b[i] = s / li[i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = b[i];
        for (int k = i + 1; k < n; k++) s -= l[(size_t)k * n + i] * b[k];
        b[i] = s / l[(size_t)i * n + i];
    }
}

LR_CLONES
void lr_inverse_downdate_block_f64(double *a, int n, const int32_t *keep, int nkeep, const int32_t *drop, int nd,
                                   const double *cinv, double *u) {
    for (int p = 0; p < nkeep; p++) {
        double *ai = a + (size_t)keep[p] * n;
        // u = a[i][drop] · C⁻¹
        for (int w = 0; w < nd; w++) u[w] = 0;
        for (int v = 0; v < nd; v++) {
            double t = ai[drop[v]];
            if (t == 0) continue;
            const double *cv = cinv + (size_t)v * nd;
            for (int w = 0; w < nd; w++) u[w] += t * cv[w];
        }
        // a[i][:] -= Σ_w u[w] · a[drop[w]][:], four dropped rows per sweep of row i so it is
        // loaded and stored once per four updates.
        int w = 0;
        for (; w + 4 <= nd; w += 4) {
            const double *r0 = a + (size_t)drop[w] * n, *r1 = a + (size_t)drop[w + 1] * n;
            const double *r2 = a + (size_t)drop[w + 2] * n, *r3 = a + (size_t)drop[w + 3] * n;
            double u0 = u[w], u1 = u[w + 1], u2 = u[w + 2], u3 = u[w + 3];
            for (int k = 0; k < n; k++) ai[k] -= u0 * r0[k] + u1 * r1[k] + u2 * r2[k] + u3 * r3[k];
        }
        for (; w < nd; w++) {
            const double *r = a + (size_t)drop[w] * n;
            double uw = u[w];
            for (int k = 0; k < n; k++) ai[k] -= uw * r[k];
        }
    }
}

LR_CLONES
void lr_inverse_downdate_f64(double *a, int n, const int32_t *keep, int nkeep, int j) {
    const double *aj = a + (size_t)j * n;
    double inv = 1.0 / aj[j];
    for (int p = 0; p < nkeep; p++) {
        int i = keep[p];
        double f = a[(size_t)i * n + j] * inv;
        if (f == 0) continue;
        double *ai = a + (size_t)i * n;
        // Full rows: the kept set is scattered, and touching a few removed entries is harmless.
        for (int k = 0; k < n; k++) ai[k] -= f * aj[k];
    }
}
