// Attention of one query head over an f16 KV cache: scores, softmax, weighted sum of values.
//
// Why one kernel for the three steps: over a long context they are the generation's hot loop
// (SmolLM2 at 2048 cached positions: 30 layers x 9 heads x 2048 positions a token), and going
// through a dispatched 64-value dot product and axpy once per position cost calls and table
// loads each: 67 t/s against llama.cpp's 70. Here the scores are one loop, the softmax
// runs on vectors with the activations' exp, and the values accumulate in registers.
#include "simd_exp.h"

#include <float.h>
#include <math.h>

void lr_attend_f16_scalar(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int d,
                          float scale, float *scores, float *out) {
    float max = -INFINITY;
    for (int s = 0; s < n; s++) {
        float dot = 0.0f;
        for (int i = 0; i < d; i++) dot += q[i] * lr_f16_to_f32(k[(size_t)s * stride + i]);
        scores[s] = dot * scale;
        if (scores[s] > max) max = scores[s];
    }
    float sum = 0.0f;
    for (int s = 0; s < n; s++) {
        scores[s] = expf(scores[s] - max);
        sum += scores[s];
    }
    const float inv = 1.0f / sum;
    for (int s = 0; s < n; s++) scores[s] *= inv;
    for (int i = 0; i < d; i++) out[i] = 0.0f;
    for (int s = 0; s < n; s++)
        for (int i = 0; i < d; i++) out[i] += scores[s] * lr_f16_to_f32(v[(size_t)s * stride + i]);
}

#if defined(__x86_64__)

LR_INLINE LR_TARGET_AVX2 __m256 load_f16x8_attn(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

enum { ATTEND_PREFETCH = 24 };

/// The d halves of position p's key and value into L1.
LR_INLINE LR_TARGET_AVX2 void prefetch_row_attn(const uint16_t *k, const uint16_t *v, size_t stride, int p, int d) {
    const char *kp = (const char *)(k + (size_t)p * stride), *vp = (const char *)(v + (size_t)p * stride);
    for (int i = 0; i < d; i += 32) {
        _mm_prefetch(kp + 2 * i, _MM_HINT_T0);
        _mm_prefetch(vp + 2 * i, _MM_HINT_T0);
    }
}

LR_TARGET_AVX2 void lr_attend_f16_avx2(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n,
                                       int d, float scale, float *scores, float *out) {
    if (d % 8 != 0) {
        lr_attend_f16_scalar(q, k, v, stride, n, d, scale, scores, out);
        return;
    }
    // Each score in the summation order llmrun's per-position dot product always had (four
    // accumulators, 32 values a step, then (a0 + a1) + (a2 + a3)). Scoring eight positions at a
    // time with one reduction ran 15% faster at 2048 positions, but its other rounding flipped a
    // near-tie in SmolLM2's greedy continuation of "The capital of France is" away from
    // llama.cpp's (CLIEndToEndTests); this order keeps it.
    // Keys and values are prefetched ATTEND_PREFETCH positions ahead of the scores (the first
    // ones up front): in a decode step they come from DRAM (the weights streamed since the last
    // step evicted them) in short strided runs the hardware prefetchers do not pick up.
    for (int p = 0; p < n && p < ATTEND_PREFETCH; p++) prefetch_row_attn(k, v, stride, p, d);
    int s = 0;
    float max = -INFINITY;
    for (; s < n; s++) {
        const uint16_t *row = k + (size_t)s * stride;
        if (s + ATTEND_PREFETCH < n) prefetch_row_attn(k, v, stride, s + ATTEND_PREFETCH, d);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + 32 <= d; i += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load_f16x8_attn(row + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load_f16x8_attn(row + i + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16), load_f16x8_attn(row + i + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24), load_f16x8_attn(row + i + 24), a3);
        }
        for (; i + 8 <= d; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load_f16x8_attn(row + i), a0);
        const __m256 acc = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        scores[s] = _mm_cvtss_f32(h) * scale;
        if (scores[s] > max) max = scores[s];
    }

    // Softmax: e^(x - max) with the vector exp (within 2 ulp of expf), then 1 / sum.
    const __m256 vm = _mm256_set1_ps(max);
    __m256 vsum = _mm256_setzero_ps();
    s = 0;
    for (; s + 8 <= n; s += 8) {
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + s), vm));
        _mm256_storeu_ps(scores + s, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vsum);
    float sum = 0.0f;
    for (int i = 0; i < 8; i++) sum += lanes[i];
    if (s < n) {
        float tail[8] = {0};
        for (int i = s; i < n; i++) tail[i - s] = scores[i] - max;
        _mm256_storeu_ps(tail, exp_avx2(_mm256_loadu_ps(tail)));
        for (int i = s; i < n; i++) {
            scores[i] = tail[i - s];
            sum += tail[i - s];
        }
    }
    const float inv = 1.0f / sum;

    // out = sum of p_s v_s, 64 values at a time in eight accumulators; 1 / sum applied at the end.
    for (int i0 = 0; i0 < d; i0 += 64) {
        const int w = d - i0 < 64 ? d - i0 : 64;  // a multiple of 8
        __m256 acc[8];
        for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
        if (w == 64) {
            for (s = 0; s < n; s++) {
                const __m256 p = _mm256_broadcast_ss(scores + s);
                const uint16_t *row = v + (size_t)s * stride + i0;
                LR_UNROLL
                for (int j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(p, load_f16x8_attn(row + 8 * j), acc[j]);
            }
        } else {
            for (s = 0; s < n; s++) {
                const __m256 p = _mm256_broadcast_ss(scores + s);
                const uint16_t *row = v + (size_t)s * stride + i0;
                for (int j = 0; j < w / 8; j++) acc[j] = _mm256_fmadd_ps(p, load_f16x8_attn(row + 8 * j), acc[j]);
            }
        }
        const __m256 vinv = _mm256_set1_ps(inv);
        for (int j = 0; j < w / 8; j++) _mm256_storeu_ps(out + i0 + 8 * j, _mm256_mul_ps(acc[j], vinv));
    }
    const __m256 vinv = _mm256_set1_ps(inv);
    for (s = 0; s + 8 <= n; s += 8) _mm256_storeu_ps(scores + s, _mm256_mul_ps(_mm256_loadu_ps(scores + s), vinv));
    for (; s < n; s++) scores[s] *= inv;
}

#endif

#if defined(__aarch64__)

LR_INLINE float32x4_t load_f16x4_attn(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

void lr_attend_f16_neon(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int d,
                        float scale, float *scores, float *out) {
    if (d % 8 != 0) {
        lr_attend_f16_scalar(q, k, v, stride, n, d, scale, scores, out);
        return;
    }
    // Each score in the summation order NEON's per-position dot product always had (four
    // accumulators, 16 values a step), for the reason given in the AVX2 path.
    float max = -INFINITY;
    int s = 0;
    for (; s < n; s++) {
        const uint16_t *row = k + (size_t)s * stride;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + 16 <= d; i += 16) {
            a0 = vfmaq_f32(a0, vld1q_f32(q + i), load_f16x4_attn(row + i));
            a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), load_f16x4_attn(row + i + 4));
            a2 = vfmaq_f32(a2, vld1q_f32(q + i + 8), load_f16x4_attn(row + i + 8));
            a3 = vfmaq_f32(a3, vld1q_f32(q + i + 12), load_f16x4_attn(row + i + 12));
        }
        for (; i + 4 <= d; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(q + i), load_f16x4_attn(row + i));
        scores[s] = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3))) * scale;
        max = scores[s] > max ? scores[s] : max;
    }
    float32x4_t vsum = vdupq_n_f32(0.0f);
    const float32x4_t vm = vdupq_n_f32(max);
    for (s = 0; s + 4 <= n; s += 4) {
        const float32x4_t e = exp_neon(vsubq_f32(vld1q_f32(scores + s), vm));
        vst1q_f32(scores + s, e);
        vsum = vaddq_f32(vsum, e);
    }
    float sum = vaddvq_f32(vsum);
    if (s < n) {
        float tail[4] = {0};
        for (int i = s; i < n; i++) tail[i - s] = scores[i] - max;
        vst1q_f32(tail, exp_neon(vld1q_f32(tail)));
        for (int i = s; i < n; i++) {
            scores[i] = tail[i - s];
            sum += tail[i - s];
        }
    }
    const float inv = 1.0f / sum;
    for (int i0 = 0; i0 < d; i0 += 32) {
        const int w = d - i0 < 32 ? d - i0 : 32;  // a multiple of 8
        float32x4_t acc[8];
        for (int j = 0; j < 8; j++) acc[j] = vdupq_n_f32(0.0f);
        for (s = 0; s < n; s++) {
            const float p = scores[s];
            const uint16_t *row = v + (size_t)s * stride + i0;
            for (int j = 0; j < w / 4; j++) acc[j] = vfmaq_n_f32(acc[j], load_f16x4_attn(row + 4 * j), p);
        }
        for (int j = 0; j < w / 4; j++) vst1q_f32(out + i0 + 4 * j, vmulq_n_f32(acc[j], inv));
    }
    for (s = 0; s < n; s++) scores[s] *= inv;
}

#endif

