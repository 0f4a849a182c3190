// The gated MLP activations, in place over the gate rows: gate[i] = act(gate[i]) * up[i], with
// act = SiLU (SwiGLU: LLaMA, Qwen, SmolLM) or GELU's tanh form (GeGLU: Gemma).
//
// Why kernels: on a prompt batch the scalar libm loop was 12% of Gemma-3-270M's prompt time
// (expm1f inside tanhf on 64 x 2048 values a block), run on one thread while the others waited.
//
// The scalar versions are the definitions, on libm. The SIMD versions compute both through one
// exp: silu(g) = g / (1 + e^-g), and gelu_tanh(g) = 0.5 g (1 + tanh u) = g / (1 + e^(-2u)) with
// u = sqrt(2/pi) (g + 0.044715 g^3). The second form has no cancellation where tanh u is near -1,
// so it is the more accurate of the two for negative g.
#include "kernels_internal.h"

#include <math.h>

#define GELU_C 0.7978845608028654f  // sqrt(2/pi)
#define GELU_A 0.044715f

void lr_swiglu_scalar(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void lr_geglu_scalar(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = 0.5f * g * (1.0f + tanhf(GELU_C * (g + GELU_A * g * g * g))) * up[i];
    }
}

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

/// g / (1 + e^(scale * g * (1 + a g^2))) * u: silu with scale -1, a 0; gelu with scale -2c.
LR_INLINE LR_TARGET_AVX2 __m256 glu8_avx2(__m256 g, __m256 u, const float scale, const float a) {
    __m256 t = _mm256_mul_ps(g, _mm256_set1_ps(scale));
    if (a != 0.0f) t = _mm256_mul_ps(t, _mm256_fmadd_ps(_mm256_mul_ps(g, g), _mm256_set1_ps(a), _mm256_set1_ps(1.0f)));
    const __m256 den = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_avx2(t));
    return _mm256_mul_ps(_mm256_div_ps(g, den), u);
}

LR_INLINE LR_TARGET_AVX2 void glu_avx2(float *gate, const float *up, int64_t n, const float scale, const float a) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gate + i, glu8_avx2(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i), scale, a));
    if (i < n) {  // the tail through the same arithmetic, so every element is computed alike
        float g[8] = {0}, u[8] = {0};
        memcpy(g, gate + i, (size_t)(n - i) * sizeof(float));
        memcpy(u, up + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(g, glu8_avx2(_mm256_loadu_ps(g), _mm256_loadu_ps(u), scale, a));
        memcpy(gate + i, g, (size_t)(n - i) * sizeof(float));
    }
}

LR_TARGET_AVX2 void lr_swiglu_avx2(float *gate, const float *up, int64_t n) { glu_avx2(gate, up, n, -1.0f, 0.0f); }
LR_TARGET_AVX2 void lr_geglu_avx2(float *gate, const float *up, int64_t n) {
    glu_avx2(gate, up, n, -2.0f * GELU_C, GELU_A);
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

LR_INLINE float32x4_t glu4_neon(float32x4_t g, float32x4_t u, const float scale, const float a) {
    float32x4_t t = vmulq_n_f32(g, scale);
    if (a != 0.0f) t = vmulq_f32(t, vfmaq_n_f32(vdupq_n_f32(1.0f), vmulq_f32(g, g), a));
    const float32x4_t den = vaddq_f32(vdupq_n_f32(1.0f), exp_neon(t));
    return vmulq_f32(vdivq_f32(g, den), u);
}

LR_INLINE void glu_neon(float *gate, const float *up, int64_t n, const float scale, const float a) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(gate + i, glu4_neon(vld1q_f32(gate + i), vld1q_f32(up + i), scale, a));
    if (i < n) {
        float g[4] = {0}, u[4] = {0};
        memcpy(g, gate + i, (size_t)(n - i) * sizeof(float));
        memcpy(u, up + i, (size_t)(n - i) * sizeof(float));
        vst1q_f32(g, glu4_neon(vld1q_f32(g), vld1q_f32(u), scale, a));
        memcpy(gate + i, g, (size_t)(n - i) * sizeof(float));
    }
}

void lr_swiglu_neon(float *gate, const float *up, int64_t n) { glu_neon(gate, up, n, -1.0f, 0.0f); }
void lr_geglu_neon(float *gate, const float *up, int64_t n) { glu_neon(gate, up, n, -2.0f * GELU_C, GELU_A); }
#endif
