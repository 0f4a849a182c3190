// ggml's sign and 2-bit formats: Q1_0 (128 values, one f16 scale d, each value +d or -d by one
// bit) and Q2_0 (64 values, one f16 scale d, 2-bit codes c for the levels c - 1: -1, 0, 1, 2).
// Both are whole levels under one scale, so Q8_0 holds them exactly: decoded per tile, they give
// llama.cpp's products (its kernels take Q8_0 activations for these two as well).
#include "kernels_internal.h"

enum { Q1_0 = 41, Q2_0 = 42, Q1_0_VALUES = 128, Q2_0_VALUES = 64, BLOCK_BYTES = 18 };

/// Values per block of Q1_0 (128) and Q2_0 (64); 0 for another type.
static int block_values(int type) { return type == Q1_0 ? Q1_0_VALUES : type == Q2_0 ? Q2_0_VALUES : 0; }

/// The levels of one block (value j is bit j % 8 of byte j / 8, or bits 2 (j % 4) of byte j / 4)
/// and its scale.
static void decode(int type, const uint8_t *b, int8_t *level, float *d) {
    uint16_t h;
    memcpy(&h, b, 2);
    *d = lr_f16_to_f32_inline(h);
    const uint8_t *qs = b + 2;
    if (type == Q1_0)
        for (int j = 0; j < Q1_0_VALUES; j++) level[j] = (qs[j / 8] >> (j % 8)) & 1 ? 1 : -1;
    else
        for (int j = 0; j < Q2_0_VALUES; j++) level[j] = (int8_t)(((qs[j / 4] >> (2 * (j % 4))) & 3) - 1);
}

int lr_dequantize_row_q1_q2(int type, const void *src, float *dst, int64_t n) {
    const int values = block_values(type);
    if (values == 0 || n % values != 0) return -1;
    int8_t level[Q1_0_VALUES];
    float d;
    for (int64_t i = 0; i < n / values; i++) {
        decode(type, (const uint8_t *)src + i * BLOCK_BYTES, level, &d);
        for (int j = 0; j < values; j++) dst[i * values + j] = (float)level[j] * d;
    }
    return 0;
}

int lr_decode_row_q1_q2_q8_0(int type, const void *src, void *dst, int64_t n) {
    const int values = block_values(type);
    if (values == 0 || n % values != 0) return -1;
    lr_block_q8_0 *y = dst;
    int8_t level[Q1_0_VALUES];
    float d;
    for (int64_t i = 0; i < n / values; i++) {
        const uint8_t *b = (const uint8_t *)src + i * BLOCK_BYTES;
        decode(type, b, level, &d);
        for (int k = 0; k < values / LR_QK; k++, y++) {
            memcpy(&y->d, b, 2);  // the block's own f16 scale, unrounded
            memcpy(y->qs, level + k * LR_QK, LR_QK);
        }
    }
    return 0;
}
