// SIMD activation quantizer (f32 -> Q8_0), AVX2 and NEON. Same scale as the reference
// (d = amax/127, values times 1/d) and the same rounding as roundf (half away from zero),
// so the bytes equal lr_quantize_row_q8_0_ref's.
#include "kernels_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

/// roundf for |x| < 2^23: trunc(x) plus sign(x) when the dropped fraction is at least one half.
LR_INLINE LR_TARGET_AVX2 __m256 round_half_away(__m256 x) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(x, t));
    const __m256 step = _mm256_or_ps(_mm256_and_ps(x, sign_bit), _mm256_set1_ps(1.0f));
    const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(up, step));
}

LR_TARGET_AVX2 void lr_quantize_row_q8_0_avx2(const float *src, void *dst, int64_t n) {
    lr_block_q8_0 *y = dst;
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float *x = src + i * LR_QK;
        __m256 v[4];
        for (int j = 0; j < 4; j++) v[j] = _mm256_loadu_ps(x + 8 * j);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign_bit, v[0]), _mm256_andnot_ps(sign_bit, v[1])),
                                 _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[2]), _mm256_andnot_ps(sign_bit, v[3])));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int j = 0; j < 4; j++) q[j] = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v[j], vid)));
        // packs work within 128-bit lanes; the permute restores element order.
        const __m256i q01 = _mm256_packs_epi32(q[0], q[1]);
        const __m256i q23 = _mm256_packs_epi32(q[2], q[3]);
        const __m256i bytes = _mm256_packs_epi16(q01, q23);
        const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[i].qs, ordered);
    }
}

#endif

#if defined(__aarch64__)
#include <arm_neon.h>

void lr_quantize_row_q8_0_neon(const float *src, void *dst, int64_t n) {
    lr_block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float *x = src + i * LR_QK;
        float32x4_t v[8];
        for (int j = 0; j < 8; j++) v[j] = vld1q_f32(x + 4 * j);
        float32x4_t m = vabsq_f32(v[0]);
        for (int j = 1; j < 8; j++) m = vmaxq_f32(m, vabsq_f32(v[j]));
        const float amax = vmaxvq_f32(m);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = lr_f32_to_f16_inline(d);
        int16x8_t h[4];
        for (int j = 0; j < 4; j++) {
            // vcvta rounds to nearest with ties away from zero, exactly roundf.
            const int32x4_t lo = vcvtaq_s32_f32(vmulq_n_f32(v[2 * j], id));
            const int32x4_t hi = vcvtaq_s32_f32(vmulq_n_f32(v[2 * j + 1], id));
            h[j] = vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi));
        }
        vst1q_s8(y[i].qs, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
        vst1q_s8(y[i].qs + 16, vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
    }
}

#endif
