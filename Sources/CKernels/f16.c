// f16 / bf16 <-> f32: scalar helpers and bulk row conversions (F16C on x86, NEON on aarch64).
#include "kernels_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

float lr_f16_to_f32(uint16_t h) { return lr_f16_to_f32_inline(h); }
uint16_t lr_f32_to_f16(float f) { return lr_f32_to_f16_inline(f); }
float lr_bf16_to_f32(uint16_t h) { return lr_bf16_to_f32_inline(h); }
uint16_t lr_f32_to_bf16(float f) { return lr_f32_to_bf16_inline(f); }

void lr_f16_to_f32_row_scalar(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = lr_f16_to_f32_inline(src[i]);
}

void lr_f32_to_f16_row_scalar(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = lr_f32_to_f16_inline(src[i]);
}

void lr_bf16_to_f32_row_scalar(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = lr_bf16_to_f32_inline(src[i]);
}

void lr_f32_to_bf16_row_scalar(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = lr_f32_to_bf16_inline(src[i]);
}


#if defined(__x86_64__)

float lr_f16_table[1 << 16];

void lr_f16_table_init(void) {
    for (uint32_t h = 0; h < (1u << 16); h++) lr_f16_table[h] = lr_f16_to_f32_inline((uint16_t)h);
}

LR_TARGET_AVX2 void lr_f16_to_f32_row_f16c(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) dst[i] = lr_f16_to_f32_inline(src[i]);
}

LR_TARGET_AVX2 void lr_f32_to_f16_row_f16c(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    for (; i < n; i++) dst[i] = lr_f32_to_f16_inline(src[i]);
}

LR_TARGET_AVX2 void lr_bf16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; i++) dst[i] = lr_bf16_to_f32_inline(src[i]);
}

LR_TARGET_AVX2 void lr_f32_to_bf16_row_avx2(const float *src, uint16_t *dst, int64_t n) {
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    const __m256i inf = _mm256_set1_epi32(0x7f800000);
    const __m256i round = _mm256_set1_epi32(0x7fff);
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i quiet = _mm256_set1_epi32(0x40);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i x = _mm256_castps_si256(_mm256_loadu_ps(src + i));
        __m256i hi = _mm256_srli_epi32(x, 16);
        __m256i rounded = _mm256_srli_epi32(
            _mm256_add_epi32(_mm256_add_epi32(x, round), _mm256_and_si256(hi, one)), 16);
        __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs_mask), inf);
        __m256i r = _mm256_blendv_epi8(rounded, _mm256_or_si256(hi, quiet), is_nan);
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_castsi256_si128(packed));
    }
    for (; i < n; i++) dst[i] = lr_f32_to_bf16_inline(src[i]);
}

#endif

#if defined(__aarch64__)

void lr_f16_to_f32_row_neon(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(src + i));
        vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
    }
    for (; i < n; i++) dst[i] = lr_f16_to_f32_inline(src[i]);
}

void lr_f32_to_f16_row_neon(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x4_t lo = vcvt_f16_f32(vld1q_f32(src + i));
        float16x8_t h = vcvt_high_f16_f32(lo, vld1q_f32(src + i + 4));
        vst1q_u16(dst + i, vreinterpretq_u16_f16(h));
    }
    for (; i < n; i++) dst[i] = lr_f32_to_f16_inline(src[i]);
}

#endif
