// Private to CKernels: exp(x) on SIMD vectors, shared by the gated activations (glu.c) and the
// attention softmax (attention.c).
#ifndef LR_SIMD_EXP_H
#define LR_SIMD_EXP_H

#include <math.h>

#include "kernels_internal.h"

// exp(x) for the SIMD paths: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2 (ln2 split in
// two so that n ln2 is exact), e^r by Cephes' degree-7 polynomial (within 2 ulp of expf), times
// 2^n built in the exponent bits. x is clamped to [-87, 88] first, where 2^n is a normal float,
// and x > 88 gives +inf: the callers divide by 1 + e^x, where e^-87 is already nothing next to 1
// and a huge finite e^x would leave g / e^x visibly nonzero for a g of 1e25.
#define EXP_LO (-87.0f)
#define EXP_HI 88.0f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f

#if defined(__x86_64__)
#include <immintrin.h>

LR_INLINE LR_TARGET_AVX2 __m256 exp_avx2(__m256 x) {
    const __m256 overflow = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_HI), _CMP_GT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_blendv_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(bits)), _mm256_set1_ps(INFINITY), overflow);
}

#endif

#if defined(__aarch64__)
#include <arm_neon.h>

LR_INLINE float32x4_t exp_neon(float32x4_t x) {
    const uint32x4_t overflow = vcgtq_f32(x, vdupq_n_f32(EXP_HI));
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(EXP_LO)), vdupq_n_f32(EXP_HI));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, LOG2E));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(LN2_HI));
    r = vfmsq_f32(r, n, vdupq_n_f32(LN2_LO));
    float32x4_t p = vdupq_n_f32(P0);
    p = vfmaq_f32(vdupq_n_f32(P1), p, r);
    p = vfmaq_f32(vdupq_n_f32(P2), p, r);
    p = vfmaq_f32(vdupq_n_f32(P3), p, r);
    p = vfmaq_f32(vdupq_n_f32(P4), p, r);
    p = vfmaq_f32(vdupq_n_f32(P5), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vbslq_f32(overflow, vdupq_n_f32(INFINITY), vmulq_f32(p, vreinterpretq_f32_s32(bits)));
}

#endif

#endif
