// Dense linear algebra for the pruner (see ckernels_linalg.h).
#include "ckernels_linalg.h"

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

LR_CLONES
void lr_cross_tile_f32(const float *x, size_t ldx, const float *y, size_t ldy, int rows,
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

void lr_gram_tile_f32(const float *x, int rows, size_t ldx, int i0, int i1, int j0, int j1,
                      double *out, size_t ldo) {
    lr_cross_tile_f32(x, ldx, x, ldx, rows, i0, i1, j0, j1, out, ldo);
}

LR_CLONES
int lr_cholesky_f64(double *a, int n) {
    // Row-oriented (Cholesky–Banachiewicz): row i of L from rows 0..i-1, dot products along
    // contiguous rows so the inner loop vectorizes.
    for (int i = 0; i < n; i++) {
        double *ai = a + (size_t)i * n;
        for (int j = 0; j <= i; j++) {
            const double *aj = a + (size_t)j * n;
            double s = ai[j];
            for (int k = 0; k < j; k++) s -= ai[k] * aj[k];
            if (i == j) {
                if (!(s > 0)) return i + 1;
                ai[i] = sqrt(s);
            } else {
                ai[j] = s / aj[j];
            }
        }
        for (int j = i + 1; j < n; j++) ai[j] = 0;
    }
    return 0;
}

LR_CLONES
void lr_cholesky_inverse_f64(double *l, int n, double *w) {
    // W = L^-1 (lower), by forward substitution row by row; then A^-1 = W^T W.
    memset(w, 0, sizeof(double) * (size_t)n * n);
    for (int i = 0; i < n; i++) {
        const double *li = l + (size_t)i * n;
        double *wi = w + (size_t)i * n;
        wi[i] = 1.0 / li[i];
        // w[i][k] = -(sum_{j=k}^{i-1} l[i][j] w[j][k]) / l[i][i] for k < i
        for (int j = 0; j < i; j++) {
            double lij = li[j];
            if (lij == 0) continue;
            const double *wj = w + (size_t)j * n;
            for (int k = 0; k <= j; k++) wi[k] -= lij * wj[k];
        }
        double inv = 1.0 / li[i];
        for (int k = 0; k < i; k++) wi[k] *= inv;
    }
    // A^-1[i][k] = sum_{r >= max(i,k)} w[r][i] w[r][k]: accumulate row by row of W.
    memset(l, 0, sizeof(double) * (size_t)n * n);
    for (int r = 0; r < n; r++) {
        const double *wr = w + (size_t)r * n;
        for (int i = 0; i <= r; i++) {
            double a = wr[i];
            if (a == 0) continue;
            double *oi = l + (size_t)i * n;
            for (int k = 0; k <= i; k++) oi[k] += a * wr[k];
        }
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < i; k++) l[(size_t)k * n + i] = l[(size_t)i * n + k];
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
