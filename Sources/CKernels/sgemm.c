// f32 GEMM for the pruner's block refit. The system OpenBLAS is loaded at run time when present
// (dlopen: no build or link dependency); otherwise a packed 4x16 register-tile kernel runs.
#include "ckernels_sgemm.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));

enum { KC = 256, NC = 512, MR = 4, NR = 16 };

// op(A)(i, p) and op(B)(p, j) of a row-major operand.
static inline float elemA(int t, const float *A, size_t lda, int i, int p) { return t ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]; }
static inline float elemB(int t, const float *B, size_t ldb, int p, int j) { return t ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j]; }

// C[4 x 16] (+)= Ap (kc x 4, p-major) · Bp (kc x 16 within a row stride of ncp).
#define MICRO_KERNEL_BODY                                                                      \
    v8f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0}; \
    for (int p = 0; p < kc; p++) {                                                             \
        v8f b0, b1;                                                                            \
        memcpy(&b0, bp + (size_t)p * ncp, 32);                                                 \
        memcpy(&b1, bp + (size_t)p * ncp + 8, 32);                                             \
        const float *a = ap + p * MR;                                                          \
        c00 += a[0] * b0; c01 += a[0] * b1;                                                    \
        c10 += a[1] * b0; c11 += a[1] * b1;                                                    \
        c20 += a[2] * b0; c21 += a[2] * b1;                                                    \
        c30 += a[3] * b0; c31 += a[3] * b1;                                                    \
    }                                                                                          \
    memcpy(out + 0 * MR * NR, &c00, 32); memcpy(out + 0 * MR * NR + 8, &c01, 32);              \
    memcpy(out + 16, &c10, 32); memcpy(out + 24, &c11, 32);                                    \
    memcpy(out + 32, &c20, 32); memcpy(out + 40, &c21, 32);                                    \
    memcpy(out + 48, &c30, 32); memcpy(out + 56, &c31, 32);

static void micro_generic(int kc, const float *ap, const float *bp, size_t ncp, float *out) { MICRO_KERNEL_BODY }

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
__attribute__((target("avx2,fma")))
static void micro_avx2(int kc, const float *ap, const float *bp, size_t ncp, float *out) { MICRO_KERNEL_BODY }
#endif

typedef void (*micro_fn)(int, const float *, const float *, size_t, float *);

static micro_fn pick_micro(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return micro_avx2;
#endif
    return micro_generic;
}

void lr_sgemm_rows(int transA, int transB, int i0, int i1, int N, int K, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (i1 <= i0 || N <= 0) return;
    for (int i = i0; i < i1; i++) {
        float *c = C + (size_t)i * ldc;
        if (beta == 0) memset(c, 0, sizeof(float) * (size_t)N);
        else if (beta != 1) for (int j = 0; j < N; j++) c[j] *= beta;
    }
    if (K <= 0) return;
    micro_fn micro = pick_micro();
    float *bpack = aligned_alloc(64, sizeof(float) * KC * NC);
    float *apack = aligned_alloc(64, sizeof(float) * KC * MR);
    float tile[MR * NR];
    for (int j0 = 0; j0 < N; j0 += NC) {
        int nc = N - j0 < NC ? N - j0 : NC;
        int ncp = (nc + NR - 1) / NR * NR;
        for (int p0 = 0; p0 < K; p0 += KC) {
            int kc = K - p0 < KC ? K - p0 : KC;
            for (int p = 0; p < kc; p++) {
                float *row = bpack + (size_t)p * ncp;
                if (!transB) memcpy(row, B + (size_t)(p0 + p) * ldb + j0, sizeof(float) * (size_t)nc);
                else for (int j = 0; j < nc; j++) row[j] = B[(size_t)(j0 + j) * ldb + p0 + p];
                for (int j = nc; j < ncp; j++) row[j] = 0;
            }
            for (int i = i0; i < i1; i += MR) {
                int mr = i1 - i < MR ? i1 - i : MR;
                for (int p = 0; p < kc; p++)
                    for (int r = 0; r < MR; r++) apack[p * MR + r] = r < mr ? elemA(transA, A, lda, i + r, p0 + p) : 0;
                for (int j = 0; j < nc; j += NR) {
                    micro(kc, apack, bpack + j, (size_t)ncp, tile);
                    int nr = nc - j < NR ? nc - j : NR;
                    for (int r = 0; r < mr; r++) {
                        float *c = C + (size_t)(i + r) * ldc + j0 + j;
                        for (int q = 0; q < nr; q++) c[q] += alpha * tile[r * NR + q];
                    }
                }
            }
        }
    }
    free(bpack);
    free(apack);
}

// cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), CblasRowMajor = 101,
// CblasNoTrans = 111, CblasTrans = 112.
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                               float, float *, int);
typedef void (*set_threads_fn)(int);
static cblas_sgemm_fn blas_sgemm;
static set_threads_fn blas_set_threads;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void load_blas(void) {
    if (getenv("LLMRUN_NO_BLAS")) return;
    const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        void *h = dlopen(names[k], RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        blas_sgemm = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
        blas_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
        if (blas_sgemm) return;
        dlclose(h);
    }
}

int lr_sgemm(int transA, int transB, int M, int N, int K, float alpha,
             const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    pthread_once(&blas_once, load_blas);
    if (blas_sgemm) {
        blas_sgemm(101, transA ? 112 : 111, transB ? 112 : 111, M, N, K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return 1;
    }
    lr_sgemm_rows(transA, transB, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return 0;
}

void lr_sgemm_set_threads(int n) {
    pthread_once(&blas_once, load_blas);
    if (blas_set_threads) blas_set_threads(n);
}

int lr_sgemm_blas_available(void) {
    pthread_once(&blas_once, load_blas);
    return blas_sgemm != 0;
}
