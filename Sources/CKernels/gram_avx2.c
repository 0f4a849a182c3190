// Cross products of activation columns (the pruner's Gram matrices) with AVX2 + FMA.
//
// out[i][j] += sum_r x[r][i] * y[r][j]: a microkernel keeps a 6 x 16 block of sums in twelve
// registers and, per row, broadcasts six x values against two vectors of y. The plain loops in
// linalg.c keep their sums in an L1 array instead, a load and a store per 8 products; this runs
// about four times as fast, and the avx2 backend's table points at it (dispatch.c).
#include "kernels_internal.h"
#include "ckernels_linalg.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { GI = 6, GJ = 16, GROWS = 256 };  // sums stay f32 over GROWS rows, then go into f64

LR_INLINE LR_TARGET_AVX2 void add_f64(double *o, __m256 v) {
    _mm256_storeu_pd(o, _mm256_add_pd(_mm256_loadu_pd(o), _mm256_cvtps_pd(_mm256_castps256_ps128(v))));
    _mm256_storeu_pd(o + 4, _mm256_add_pd(_mm256_loadu_pd(o + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

/// Rows [r0, r1) of the block i .. i + NI, j .. j + 16 (NI constant, 1..6).
LR_INLINE LR_TARGET_AVX2 void gram_micro(const float *x, size_t ldx, const float *y, size_t ldy, int r0, int r1,
                                         int i, int j, double *out, size_t ldo, const int NI) {
    __m256 c[GI][2];
    LR_UNROLL
    for (int a = 0; a < NI; a++) c[a][0] = c[a][1] = _mm256_setzero_ps();
    for (int r = r0; r < r1; r++) {
        const float *yr = y + (size_t)r * ldy + j;
        const float *xr = x + (size_t)r * ldx + i;
        const __m256 y0 = _mm256_loadu_ps(yr), y1 = _mm256_loadu_ps(yr + 8);
        LR_UNROLL
        for (int a = 0; a < NI; a++) {
            const __m256 xv = _mm256_broadcast_ss(xr + a);
            c[a][0] = _mm256_fmadd_ps(xv, y0, c[a][0]);
            c[a][1] = _mm256_fmadd_ps(xv, y1, c[a][1]);
        }
    }
    LR_UNROLL
    for (int a = 0; a < NI; a++) {
        double *o = out + (size_t)(i + a) * ldo + j;
        add_f64(o, c[a][0]);
        add_f64(o + 8, c[a][1]);
    }
}

#define GRAM_MICRO(NI)                                                                                    \
    static __attribute__((noinline)) LR_TARGET_AVX2 void gram_micro_##NI(                                \
        const float *x, size_t ldx, const float *y, size_t ldy, int r0, int r1, int i, int j, double *out, \
        size_t ldo) {                                                                                     \
        gram_micro(x, ldx, y, ldy, r0, r1, i, j, out, ldo, NI);                                           \
    }
GRAM_MICRO(1)
GRAM_MICRO(2)
GRAM_MICRO(3)
GRAM_MICRO(4)
GRAM_MICRO(5)
GRAM_MICRO(6)

typedef void (*gram_micro_fn)(const float *, size_t, const float *, size_t, int, int, int, int, double *, size_t);
static const gram_micro_fn gram_micros[GI + 1] = {NULL, gram_micro_1, gram_micro_2, gram_micro_3,
                                                  gram_micro_4, gram_micro_5, gram_micro_6};

/// Columns j in [j0, j1) are done 16 at a time; a narrower remainder is left to the caller
/// (returned: the first column not done).
int lr_cross_tile_f32_avx2(const float *x, size_t ldx, const float *y, size_t ldy, int rows, int i0, int i1,
                           int j0, int j1, double *out, size_t ldo) {
    const int jend = j0 + (j1 - j0) / GJ * GJ;
    for (int r0 = 0; r0 < rows; r0 += GROWS) {
        const int r1 = rows - r0 < GROWS ? rows : r0 + GROWS;
        for (int i = i0; i < i1; i += GI) {
            const int ni = i1 - i < GI ? i1 - i : GI;
            for (int j = j0; j < jend; j += GJ) gram_micros[ni](x, ldx, y, ldy, r0, r1, i, j, out, ldo);
        }
    }
    return jend;
}

#endif
