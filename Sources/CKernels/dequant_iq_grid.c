// The grid-coded IQ formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S): scalar
// dequantization, value for value as ggml defines them, and the decode to Q8_0 blocks that runs
// them per tile (lr_decode_row_iq_grid_q8_0; decode_tile.c).
//
// Each 32-value sub-block decodes to integer-like levels (grid bytes with their signs, or
// IQ1's -1/0/1 plus a shift of 1/8) and one scale per 16 values; a value is scale * level.
#include "iq_grids.h"
#include "kernels_internal.h"

#include <math.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

enum { IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ3_S = 21, IQ2_S = 22, IQ1_M = 29 };

/// One 32-value sub-block: value k = scale[k / 16] * level[k]; `uniform` when one scale
/// serves all 32 (the levels then go into a Q8_0 block as they are, where they are whole).
typedef struct {
    float scale[2];
    float level[32];
    int uniform;
} sub_block;

/// Block bytes and values per block of each format; 0 for other types.
static int block_bytes(int type) {
    switch (type) {
    case IQ2_XXS: return 66;
    case IQ2_XS: return 74;
    case IQ2_S: return 82;
    case IQ3_XXS: return 98;
    case IQ3_S: return 110;
    case IQ1_S: return 50;
    case IQ1_M: return 56;
    default: return 0;
    }
}

static inline float f16(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return lr_f16_to_f32_inline(h); }
static inline uint16_t u16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/// The 8 sign bits of a 7-bit sign index: the eighth makes the count of minus signs even.
static inline uint8_t signs8(uint32_t s7) { return (uint8_t)(s7 | (uint32_t)(__builtin_popcount(s7) & 1) << 7); }

/// 8 levels from a grid entry's bytes with signs (bit j set: value j negative).
static inline void grid8(uint64_t entry, uint8_t signs, float *out) {
    for (int j = 0; j < 8; j++) {
        const float m = (float)(uint8_t)(entry >> (8 * j));
        out[j] = (signs >> j & 1) ? -m : m;
    }
}

static void decode(int type, const uint8_t *b, int ib, sub_block *s) {
    s->uniform = 1;
    switch (type) {
    case IQ2_XXS: {
        const uint8_t *q = b + 2 + 8 * ib;
        const uint32_t a = lr_load_u32le(q + 4);
        s->scale[0] = s->scale[1] = f16(b) * (0.5f + (float)(a >> 28)) * 0.25f;
        for (int l = 0; l < 4; l++) grid8(lr_iq2xxs_grid[q[l]], signs8(a >> (7 * l) & 127), s->level + 8 * l);
        break;
    }
    case IQ2_XS: case IQ2_S: {
        const float d = f16(b);
        const uint8_t sc = b[type == IQ2_XS ? 66 + ib : 74 + ib];
        s->scale[0] = d * (0.5f + (float)(sc & 15)) * 0.25f;
        s->scale[1] = d * (0.5f + (float)(sc >> 4)) * 0.25f;
        for (int l = 0; l < 4; l++) {
            if (type == IQ2_XS) {
                const uint16_t v = u16le(b + 2 + 2 * (4 * ib + l));
                grid8(lr_iq2xs_grid[v & 511], signs8(v >> 9), s->level + 8 * l);
            } else {
                const uint8_t qh = b[66 + ib];
                const int idx = b[2 + 4 * ib + l] | ((qh << (8 - 2 * l)) & 0x300);
                grid8(lr_iq2s_grid[idx], b[2 + 32 + 4 * ib + l], s->level + 8 * l);
            }
        }
        s->uniform = s->scale[0] == s->scale[1];
        break;
    }
    case IQ3_XXS: {
        const uint8_t *q = b + 2 + 8 * ib;
        const uint32_t a = lr_load_u32le(b + 2 + 64 + 4 * ib);
        s->scale[0] = s->scale[1] = f16(b) * (0.5f + (float)(a >> 28)) * 0.5f;
        for (int l = 0; l < 4; l++) {
            const uint64_t two = (uint64_t)lr_iq3xxs_grid[q[2 * l]] | (uint64_t)lr_iq3xxs_grid[q[2 * l + 1]] << 32;
            grid8(two, signs8(a >> (7 * l) & 127), s->level + 8 * l);
        }
        break;
    }
    case IQ3_S: {
        const uint8_t *q = b + 2 + 8 * ib, qh = b[66 + ib], *sg = b + 74 + 4 * ib;
        const uint8_t sc = b[106 + ib / 2];
        s->scale[0] = s->scale[1] = f16(b) * (float)(1 + 2 * ((ib % 2) ? sc >> 4 : sc & 15));
        for (int l = 0; l < 4; l++) {
            const int i1 = q[2 * l] | ((qh << (8 - 2 * l)) & 256), i2 = q[2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
            const uint64_t two = (uint64_t)lr_iq3s_grid[i1] | (uint64_t)lr_iq3s_grid[i2] << 32;
            grid8(two, sg[l], s->level + 8 * l);
        }
        break;
    }
    case IQ1_S: {
        const uint8_t *q = b + 2 + 4 * ib;
        const uint16_t qh = u16le(b + 34 + 2 * ib);
        s->scale[0] = s->scale[1] = f16(b) * (float)(2 * ((qh >> 12) & 7) + 1);
        const float delta = (qh & 0x8000) ? -0.125f : 0.125f;
        for (int l = 0; l < 4; l++) {
            const uint64_t g = lr_iq1s_grid[q[l] | ((qh >> (3 * l)) & 7) << 8];
            for (int j = 0; j < 8; j++) s->level[8 * l + j] = (float)(int8_t)(g >> (8 * j)) + delta;
        }
        break;
    }
    case IQ1_M: {
        const uint8_t *q = b + 4 * ib, *qh = b + 32 + 2 * ib;
        uint16_t sc[4];
        for (int k = 0; k < 4; k++) sc[k] = u16le(b + 48 + 2 * k);
        const uint16_t dbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
        const float d = lr_f16_to_f32_inline(dbits);
        const int shift = 6 * (ib % 2);
        s->scale[0] = d * (float)(2 * ((sc[ib / 2] >> shift) & 7) + 1);
        s->scale[1] = d * (float)(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1);
        float delta[4];
        for (int l = 0; l < 4; l++) {
            const int idx = q[l] | ((l % 2 ? qh[l / 2] << 4 : qh[l / 2] << 8) & 0x700);
            delta[l] = (qh[l / 2] & (l % 2 ? 0x80 : 0x08)) ? -0.125f : 0.125f;
            const uint64_t g = lr_iq1s_grid[idx];
            for (int j = 0; j < 8; j++) s->level[8 * l + j] = (float)(int8_t)(g >> (8 * j)) + delta[l];
        }
        s->uniform = s->scale[0] == s->scale[1] && delta[0] == delta[1] && delta[0] == delta[2] && delta[0] == delta[3];
        break;
    }
    }
}

static void values(const sub_block *s, float *out) {
    for (int k = 0; k < 32; k++) out[k] = s->scale[k / 16] * s->level[k];
}

int lr_dequantize_row_iq_grid(int type, const void *src, float *dst, int64_t n) {
    const int bytes = block_bytes(type);
    if (bytes == 0) return -1;
    const uint8_t *b = src;
    sub_block s;
    for (int64_t i = 0; i < n / LR_QK_K; i++, b += bytes) {
        for (int ib = 0; ib < 8; ib++) {
            decode(type, b, ib, &s);
            values(&s, dst + i * LR_QK_K + ib * 32);
        }
    }
    return 0;
}

int lr_decode_row_iq_grid_q8_0(int type, const void *src, void *dst, int64_t n) {
    const int bytes = block_bytes(type);
    if (bytes == 0) return -1;
    const uint8_t *b = src;
    lr_block_q8_0 *y = dst;
    // IQ1's levels are -1, 0, 1 shifted by +-1/8: eighths are whole.
    const float m = (type == IQ1_S || type == IQ1_M) ? 8.0f : 1.0f;
    sub_block s;
    for (int64_t i = 0; i < n / LR_QK_K; i++, b += bytes) {
        for (int ib = 0; ib < 8; ib++, y++) {
            decode(type, b, ib, &s);
            int exact = s.uniform;
            int8_t q[32];
            for (int k = 0; k < 32 && exact; k++) {
                const float v = s.level[k] * m;
                exact = v == (float)(int)v && v >= -127.0f && v <= 127.0f;
                q[k] = (int8_t)v;
            }
            if (exact) {
                y->d = lr_f32_to_f16_inline(s.scale[0] / m);
                memcpy(y->qs, q, 32);
            } else {  // two scales in one block (IQ2_XS, IQ2_S, IQ1_M): rounded as a Q8_0 copy
                float v[32];
                values(&s, v);
                lr_quantize_row_q8_0(v, y, 32);
            }
        }
    }
    return 0;
}
