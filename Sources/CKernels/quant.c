// Quantization of f32 rows with ggml's reference rounding (so requantized files match
// llama-quantize byte for byte), plus the scalar activation quantizer.
#include <float.h>
#include <math.h>

#include "kernels_internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/// The value of largest magnitude in a block (the first of equals), with its sign: Q4_0 and
/// Q5_0 put it on their end level.
static float signed_absmax(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < LR_QK; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

/// A block's smallest and largest values: Q4_1's and Q5_1's range.
static void min_max(const float *x, float *min, float *max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < LR_QK; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

void lr_quantize_row_q8_0_ref(const float *src, void *dst, int64_t n) {
    lr_block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float *x = src + i * LR_QK;
        float amax = 0.0f;
        for (int j = 0; j < LR_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = lr_f32_to_f16_inline(d);
        for (int j = 0; j < LR_QK; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/// Q4_0's and Q5_0's grid (half = 8 or 16 levels each side): the scale is the signed value of
/// largest magnitude divided by -half, so that value maps to q = 0 exactly and the grid extends
/// one step further on the other side. Returns the scale; q gets 0..2·half-1.
static float offset_quants(const float *x, int half, int q[LR_QK]) {
    const float d = signed_absmax(x) / -(float)half;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const float shift = (float)half + 0.5f;  // 8.5 and 16.5, exact
    for (int j = 0; j < LR_QK; j++) {
        const int v = (int8_t)(x[j] * id + shift);
        q[j] = v > 2 * half - 1 ? 2 * half - 1 : v;
    }
    return d;
}

/// Q4_1's and Q5_1's grid: top + 1 levels from the block's min to its max. Returns the scale.
static float range_quants(const float *x, int top, float *min, int q[LR_QK]) {
    float max;
    min_max(x, min, &max);
    const float d = (max - *min) / (float)top;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < LR_QK; j++) {
        const int v = (int8_t)((x[j] - *min) * id + 0.5f);
        q[j] = v > top ? top : v;
    }
    return d;
}

/// Stores a block's quants: value j's low 4 bits in qs[j] (j < 16) or qs[j - 16]'s high nibble,
/// and, when qh is given, bit 4 of value j as bit j of the little-endian word qh.
static void pack_quants(const int q[LR_QK], uint8_t qs[LR_QK / 2], uint8_t *qh) {
    uint32_t bits = 0;
    for (int j = 0; j < LR_QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + LR_QK / 2] & 0x0f) << 4));
        bits |= (uint32_t)(q[j] >> 4 & 1) << j | (uint32_t)(q[j + LR_QK / 2] >> 4 & 1) << (j + LR_QK / 2);
    }
    if (qh)
        for (int b = 0; b < 4; b++) qh[b] = (uint8_t)(bits >> (8 * b));
}

void lr_quantize_row_q4_0_ref(const float *src, void *dst, int64_t n) {
    lr_block_q4_0 *y = dst;
    int q[LR_QK];
    for (int64_t i = 0; i < n / LR_QK; i++) {
        y[i].d = lr_f32_to_f16_inline(offset_quants(src + i * LR_QK, 8, q));
        pack_quants(q, y[i].qs, NULL);
    }
}

void lr_quantize_row_q4_1_ref(const float *src, void *dst, int64_t n) {
    lr_block_q4_1 *y = dst;
    int q[LR_QK];
    for (int64_t i = 0; i < n / LR_QK; i++) {
        float min;
        y[i].d = lr_f32_to_f16_inline(range_quants(src + i * LR_QK, 15, &min, q));
        y[i].m = lr_f32_to_f16_inline(min);
        pack_quants(q, y[i].qs, NULL);
    }
}

void lr_quantize_row_q5_0_ref(const float *src, void *dst, int64_t n) {
    lr_block_q5_0 *y = dst;
    int q[LR_QK];
    for (int64_t i = 0; i < n / LR_QK; i++) {
        y[i].d = lr_f32_to_f16_inline(offset_quants(src + i * LR_QK, 16, q));
        pack_quants(q, y[i].qs, y[i].qh);
    }
}

void lr_quantize_row_q5_1_ref(const float *src, void *dst, int64_t n) {
    lr_block_q5_1 *y = dst;
    int q[LR_QK];
    for (int64_t i = 0; i < n / LR_QK; i++) {
        float min;
        y[i].d = lr_f32_to_f16_inline(range_quants(src + i * LR_QK, 31, &min, q));
        y[i].m = lr_f32_to_f16_inline(min);
        pack_quants(q, y[i].qs, y[i].qh);
    }
}

void lr_quantize_row_f16_ref(const float *src, void *dst, int64_t n) {
    lr_f32_to_f16_row_scalar(src, (uint16_t *)dst, n);
}

void lr_quantize_row_bf16_ref(const float *src, void *dst, int64_t n) {
    lr_f32_to_bf16_row_scalar(src, (uint16_t *)dst, n);
}

int lr_quantize_row_ref(int ggml_type, const float *src, void *dst, int64_t n) {
    switch (ggml_type) {
    case LR_TYPE_F32: memmove(dst, src, (size_t)n * sizeof(float)); return 0;
    case LR_TYPE_F16: lr_quantize_row_f16_ref(src, dst, n); return 0;
    case LR_TYPE_BF16: lr_quantize_row_bf16_ref(src, dst, n); return 0;
    case LR_TYPE_Q8_0: lr_quantize_row_q8_0_ref(src, dst, n); return 0;
    case LR_TYPE_Q4_0: lr_quantize_row_q4_0_ref(src, dst, n); return 0;
    case LR_TYPE_Q4_1: lr_quantize_row_q4_1_ref(src, dst, n); return 0;
    case LR_TYPE_Q5_0: lr_quantize_row_q5_0_ref(src, dst, n); return 0;
    case LR_TYPE_Q5_1: lr_quantize_row_q5_1_ref(src, dst, n); return 0;
    default: return -1;
    }
}

void lr_quantize_row_q8_0_scalar(const float *src, void *dst, int64_t n) {
    lr_quantize_row_q8_0_ref(src, dst, n);
}


/// Activations for the formats llama.cpp multiplies against Q8_K (TQ1_0, TQ2_0): each 256 values
/// under one scale, rounded as ggml's quantize_row_q8_K_ref (scale -127 over the signed value of
/// largest magnitude, nearest-even), written as 8 Q8_0 blocks sharing that scale in f16.
void lr_quantize_row_q8_0_k256(const float *src, void *dst, int64_t n) {
    lr_block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const float *x = src + i * LR_QK_K;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < LR_QK_K; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        const float iscale = amax == 0.0f ? 0.0f : -127.0f / max;
        const uint16_t d = lr_f32_to_f16_inline(amax == 0.0f ? 0.0f : 1.0f / iscale);
        for (int b = 0; b < LR_QK_K / LR_QK; b++, y++) {
            y->d = d;
            for (int j = 0; j < LR_QK; j++) {
                const long v = lrintf(iscale * x[b * LR_QK + j]);  // the default rounding: nearest-even
                y->qs[j] = (int8_t)(v > 127 ? 127 : v);
            }
        }
    }
}
