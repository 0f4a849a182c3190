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
/// activation scale, scale x sum (Q4_K/Q5_K's mins), -32 x the sums of its two 16-value halves
/// (Q6_K's offset, where the int32 sums start; Q3_K's -4 x is these / 8), and the scale x each
/// half's sum (Q2_K's mins, one per 16-value sub-block).
typedef struct {
    float da, sa;
    int32_t s0, s1;
    float ml, mh;
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
            o[b] = (lr_kq_act){d, d * (float)(lo + hi), -32 * lo, -32 * hi, d * (float)lo, d * (float)hi};
        }
    }
}

/// Q3_K's sixteen 6-bit scales of 8 rows (lanes) at once, minus 32, as signed bytes: out[q]
/// byte j of lane i is row i's scale 4q + j. u0, u1, u2 are the rows' scale words 0, 1, 2: scale
/// s takes a nibble of byte s % 8 (the high one from s = 8 on) and bits 2 (s / 4) of byte 8 + s % 4.
LR_INLINE LR_TARGET_AVX2 void lr_q3k_scales(__m256i u0, __m256i u1, __m256i u2, __m256i out[4]) {
    const __m256i n4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03), b32 = _mm256_set1_epi8(32);
    const __m256i lo[4] = {u0, u1, _mm256_srli_epi32(u0, 4), _mm256_srli_epi32(u1, 4)};
    for (int q = 0; q < 4; q++) {
        const __m256i top = _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u2, 2 * q), m2), 4);
        out[q] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(lo[q], n4), top), b32);
    }
}

#endif

#endif
