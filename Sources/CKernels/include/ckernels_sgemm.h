// f32 matrix products for the pruner's block refit (training one MLP by gradient descent).
#ifndef LR_CKERNELS_SGEMM_H
#define LR_CKERNELS_SGEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// C[i0..i1) = alpha * op(A) * op(B) + beta * C over rows i0..i1 of C only (callers split rows
/// over threads), row-major. op(A) is M x K (A is K x M when transA), op(B) is K x N (B is N x K
/// when transB). Portable C with vector extensions: the reference the BLAS path is measured
/// against, and the fallback where no BLAS is linked.
void lr_sgemm_rows(int transA, int transB, int i0, int i1, int N, int K, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/// The same over all M rows through the system BLAS (cblas_sgemm) when llmrun was built with
/// one, else through lr_sgemm_rows on the calling thread. Returns 1 when BLAS ran it.
int lr_sgemm(int transA, int transB, int M, int N, int K, float alpha,
             const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/// 1 when a system BLAS was found (it then threads itself; callers split lr_sgemm_rows otherwise).
int lr_sgemm_blas_available(void);

/// Threads the BLAS uses (no-op without one).
void lr_sgemm_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
