// The ternary formats TQ1_0 and TQ2_0 (one f16 scale per 256 values, levels -1, 0, 1; TQ2_0's
// 2-bit codes also allow 2): scalar dequantization as ggml defines it.
#include "kernels_internal.h"

enum { TQ1_0 = 34, TQ2_0 = 35 };

/// The 256 levels of one block and its scale; 0, or -1 for another type.
static int decode(int type, const uint8_t *b, int8_t level[256], float *d) {
    if (type == TQ2_0) {  // qs[64]: value 32 * (4 * (j / 32) + l) + m is bits 2l of byte j = 32 * (j / 32) + m
        for (int j = 0; j < 64; j += 32)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++) level[j * 4 + l * 32 + m] = (int8_t)(((b[j + m] >> (2 * l)) & 3) - 1);
        uint16_t h; memcpy(&h, b + 64, 2); *d = lr_f16_to_f32_inline(h);
        return 0;
    }
    if (type != TQ1_0) return -1;
    // qs[48] hold 5 base-3 digits a byte (bytes 0-31, then 32-47), qh[4] 4 digits a byte; the
    // byte is the digits as a fraction of 3^5 scaled to 256, so digit n is the top of byte * 3^n * 3.
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    int k = 0;
    for (int j = 0; j < 32; j += 32)
        for (int n = 0; n < 5; n++)
            for (int m = 0; m < 32; m++) level[k++] = (int8_t)((((uint8_t)(b[j + m] * pow3[n])) * 3 >> 8) - 1);
    for (int j = 32; j < 48; j += 16)
        for (int n = 0; n < 5; n++)
            for (int m = 0; m < 16; m++) level[k++] = (int8_t)((((uint8_t)(b[j + m] * pow3[n])) * 3 >> 8) - 1);
    for (int n = 0; n < 4; n++)
        for (int j = 0; j < 4; j++) level[k++] = (int8_t)((((uint8_t)(b[48 + j] * pow3[n])) * 3 >> 8) - 1);
    uint16_t h; memcpy(&h, b + 52, 2); *d = lr_f16_to_f32_inline(h);
    return 0;
}

static int block_bytes(int type) { return type == TQ1_0 ? 54 : type == TQ2_0 ? 66 : 0; }

int lr_decode_row_ternary_q8_0(int type, const void *src, void *dst, int64_t n) {
    const int bytes = block_bytes(type);
    if (bytes == 0) return -1;
    lr_block_q8_0 *y = dst;
    int8_t level[256];
    float d;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const uint8_t *b = (const uint8_t *)src + i * bytes;
        decode(type, b, level, &d);
        for (int k = 0; k < LR_QK_K / LR_QK; k++, y++) {  // the levels under the block's own f16 scale
            memcpy(&y->d, b + bytes - 2, 2);
            memcpy(y->qs, level + k * LR_QK, LR_QK);
        }
    }
    return 0;
}

int lr_dequantize_row_ternary(int type, const void *src, float *dst, int64_t n) {
    const int bytes = block_bytes(type);
    if (bytes == 0) return -1;
    int8_t level[256];
    float d;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        decode(type, (const uint8_t *)src + i * bytes, level, &d);
        for (int k = 0; k < 256; k++) dst[i * 256 + k] = (float)level[k] * d;
    }
    return 0;
}

