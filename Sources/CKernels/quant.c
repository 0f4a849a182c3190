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

// The scale is the signed value of largest magnitude divided by -8, so that value maps to
// q = 0 exactly and the grid extends one step further on the other side.
void lr_quantize_row_q4_0_ref(const float *src, void *dst, int64_t n) {
    lr_block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float *x = src + i * LR_QK;
        const float d = signed_absmax(x) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = lr_f32_to_f16_inline(d);
        for (int j = 0; j < LR_QK / 2; j++) {
            int lo = (int8_t)(x[j] * id + 8.5f);
            int hi = (int8_t)(x[j + LR_QK / 2] * id + 8.5f);
            if (lo > 15) lo = 15;
            if (hi > 15) hi = 15;
            y[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

void lr_quantize_row_q4_1_ref(const float *src, void *dst, int64_t n) {
    lr_block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float *x = src + i * LR_QK;
        float min, max;
        min_max(x, &min, &max);
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = lr_f32_to_f16_inline(d);
        y[i].m = lr_f32_to_f16_inline(min);
        for (int j = 0; j < LR_QK / 2; j++) {
            int lo = (int8_t)((x[j] - min) * id + 0.5f);
            int hi = (int8_t)((x[j + LR_QK / 2] - min) * id + 0.5f);
            if (lo > 15) lo = 15;
            if (hi > 15) hi = 15;
            y[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

// As Q4_0, with 32 levels: the value of largest magnitude maps to q = 0 (scale max / -16).
void lr_quantize_row_q5_0_ref(const float *src, void *dst, int64_t n) {
    lr_block_q5_0 *y = dst;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float *x = src + i * LR_QK;
        const float d = signed_absmax(x) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = lr_f32_to_f16_inline(d);
        uint32_t qh = 0;
        for (int j = 0; j < LR_QK / 2; j++) {
            int lo = (int8_t)(x[j] * id + 16.5f);
            int hi = (int8_t)(x[j + LR_QK / 2] * id + 16.5f);
            if (lo > 31) lo = 31;
            if (hi > 31) hi = 31;
            y[i].qs[j] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh |= (uint32_t)(lo >> 4 & 1) << j | (uint32_t)(hi >> 4 & 1) << (j + LR_QK / 2);
        }
        for (int b = 0; b < 4; b++) y[i].qh[b] = (uint8_t)(qh >> (8 * b));
    }
}

// As Q4_1, with 32 levels between the block's min and max.
void lr_quantize_row_q5_1_ref(const float *src, void *dst, int64_t n) {
    lr_block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float *x = src + i * LR_QK;
        float min, max;
        min_max(x, &min, &max);
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = lr_f32_to_f16_inline(d);
        y[i].m = lr_f32_to_f16_inline(min);
        uint32_t qh = 0;
        for (int j = 0; j < LR_QK / 2; j++) {
            const int lo = (int)((x[j] - min) * id + 0.5f), hi = (int)((x[j + LR_QK / 2] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh |= (uint32_t)(lo >> 4 & 1) << j | (uint32_t)(hi >> 4 & 1) << (j + LR_QK / 2);
        }
        for (int b = 0; b < 4; b++) y[i].qh[b] = (uint8_t)(qh >> (8 * b));
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

void lr_quantize_row_q8_0(const float *src, void *dst, int64_t n) {
    lr_active_table()->quantize_q8_0(src, dst, n);
}
