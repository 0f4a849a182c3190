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

#endif

#endif
