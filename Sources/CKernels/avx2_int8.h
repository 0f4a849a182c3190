// Private to CKernels: small AVX2 helpers shared by the int8 mat-mul files.
#ifndef LR_AVX2_INT8_H
#define LR_AVX2_INT8_H

#include "kernels_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

/// Sum of the 32 int8 values at p: bias to unsigned, then sum of absolute differences against 0.
LR_INLINE LR_TARGET_AVX2 int sum_i8x32(const int8_t *p) {
    const __m256i biased = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)p), _mm256_set1_epi8((char)0x80));
    const __m256i s = _mm256_sad_epu8(biased, _mm256_setzero_si256());
    __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi64(t, _mm_unpackhi_epi64(t, t));
    return _mm_cvtsi128_si32(t) - 32 * 128;
}


/// Per token and 32-value block, for the K-quant x8 kernels (kx8_avx2.c, kx8_avx512.c): the
/// activation scale, scale x sum (Q4_K/Q5_K's mins), and -32 x the sums of its two 16-value
/// halves (Q6_K's offset, where the int32 sums start).
typedef struct {
    float da, sa;
    int32_t s0, s1;
} lr_kq_act;

static inline LR_TARGET_AVX2 void lr_kq_prep_acts(const uint8_t *a, size_t a_row_bytes, int nt, int nb, lr_kq_act *acts) {
    for (int t = 0; t < nt; t++) {
        const lr_block_q8_0 *ab = (const lr_block_q8_0 *)(a + (size_t)t * a_row_bytes);
        lr_kq_act *o = acts + (size_t)t * nb;
        for (int b = 0; b < nb; b++) {
            // Sums of 8 bytes each (biased to unsigned): halves are lanes 0+1 and 2+3.
            const __m256i s = _mm256_sad_epu8(
                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)ab[b].qs), _mm256_set1_epi8((char)0x80)),
                _mm256_setzero_si256());
            const int32_t lo = (int32_t)(_mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1)) - 16 * 128;
            const int32_t hi = (int32_t)(_mm256_extract_epi64(s, 2) + _mm256_extract_epi64(s, 3)) - 16 * 128;
            const float d = lr_f16_table[ab[b].d];
            o[b] = (lr_kq_act){d, d * (float)(lo + hi), -32 * lo, -32 * hi};
        }
    }
}

#endif

#endif
