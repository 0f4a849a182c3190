// Dequantization of ggml block formats to f32: scalar, value for value as ggml computes them.
// Also the Q4_K -> Q4_1 re-pack, which shares Q4_K's scale unpacking.
// Products are written as separate multiplies and adds and contraction is off, so results
// do not depend on whether the compiler would fuse them (ggml's scalar code is not fused
// on the x86 builds the reference figures come from).
#include "kernels_internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define FP16(h) lr_f16_to_f32_inline(h)

void lr_dequantize_row_f32(const void *src, float *dst, int64_t n) {
    memmove(dst, src, (size_t)n * sizeof(float));
}

void lr_dequantize_row_f16(const void *src, float *dst, int64_t n) {
    lr_f16_to_f32_row((const uint16_t *)src, dst, n);
}

void lr_dequantize_row_bf16(const void *src, float *dst, int64_t n) {
    lr_bf16_to_f32_row((const uint16_t *)src, dst, n);
}

void lr_dequantize_row_q8_0(const void *src, float *dst, int64_t n) {
    const lr_block_q8_0 *x = src;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float d = FP16(x[i].d);
        for (int j = 0; j < LR_QK; j++) dst[i * LR_QK + j] = x[i].qs[j] * d;
    }
}

void lr_dequantize_row_q4_0(const void *src, float *dst, int64_t n) {
    const lr_block_q4_0 *x = src;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float d = FP16(x[i].d);
        float *y = dst + i * LR_QK;
        for (int j = 0; j < LR_QK / 2; j++) {
            y[j] = ((x[i].qs[j] & 0x0f) - 8) * d;
            y[j + LR_QK / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void lr_dequantize_row_q4_1(const void *src, float *dst, int64_t n) {
    const lr_block_q4_1 *x = src;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float d = FP16(x[i].d);
        const float m = FP16(x[i].m);
        float *y = dst + i * LR_QK;
        for (int j = 0; j < LR_QK / 2; j++) {
            y[j] = (x[i].qs[j] & 0x0f) * d + m;
            y[j + LR_QK / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

void lr_dequantize_row_q5_0(const void *src, float *dst, int64_t n) {
    const lr_block_q5_0 *x = src;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float d = FP16(x[i].d);
        const uint32_t qh = lr_load_u32le(x[i].qh);
        float *y = dst + i * LR_QK;
        for (int j = 0; j < LR_QK / 2; j++) {
            const int lo = (x[i].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            y[j] = (lo - 16) * d;
            y[j + LR_QK / 2] = (hi - 16) * d;
        }
    }
}

void lr_dequantize_row_q5_1(const void *src, float *dst, int64_t n) {
    const lr_block_q5_1 *x = src;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float d = FP16(x[i].d);
        const float m = FP16(x[i].m);
        const uint32_t qh = lr_load_u32le(x[i].qh);
        float *y = dst + i * LR_QK;
        for (int j = 0; j < LR_QK / 2; j++) {
            const int lo = (x[i].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            y[j] = lo * d + m;
            y[j + LR_QK / 2] = hi * d + m;
        }
    }
}

// Q2_K: each 128-value half uses 32 bytes of qs; four 2-bit planes (shift 0,2,4,6), each plane
// covering 32 values as two sub-blocks of 16 with their own scale/min byte.
void lr_dequantize_row_q2_K(const void *src, float *dst, int64_t n) {
    const lr_block_q2_K *x = src;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d);
        const float dmin = FP16(x[i].dmin);
        const uint8_t *q = x[i].qs;
        float *y = dst + i * LR_QK_K;
        int sb = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; part++, sb++) {
                    const uint8_t sc = x[i].scales[sb];
                    const float dl = d * (sc & 0x0f);
                    const float ml = dmin * (sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[part * 16 + l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

// Unpacks the twelve bytes of Q3_K scales into sixteen 6-bit values (stored biased by 32):
// low 4 bits from bytes 0..7 (nibbles), high 2 bits from bytes 8..11.
static void q3_K_scales(const uint8_t packed[12], int8_t out[16]) {
    for (int j = 0; j < 16; j++) {
        const int lo = (j < 8) ? (packed[j] & 0x0f) : (packed[j - 8] >> 4);
        const int hi = (packed[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        out[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

void lr_dequantize_row_q3_K(const void *src, float *dst, int64_t n) {
    const lr_block_q3_K *x = src;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const float d_all = FP16(x[i].d);
        int8_t scales[16];
        q3_K_scales(x[i].scales, scales);
        const uint8_t *q = x[i].qs;
        const uint8_t *hm = x[i].hmask;
        float *y = dst + i * LR_QK_K;
        uint8_t mask = 1;
        int sb = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, mask <<= 1) {
                for (int part = 0; part < 2; part++, sb++) {
                    const float dl = d_all * scales[sb];
                    for (int l = 0; l < 16; l++) {
                        const int idx = part * 16 + l;
                        const int v = ((q[idx] >> shift) & 3) - ((hm[idx] & mask) ? 0 : 4);
                        *y++ = dl * v;
                    }
                }
            }
        }
    }
}


void lr_dequantize_row_q4_K(const void *src, float *dst, int64_t n) {
    const lr_block_q4_K *x = src;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d);
        const float dmin = FP16(x[i].dmin);
        const uint8_t *q = x[i].qs;
        float *y = dst + i * LR_QK_K;
        for (int j = 0; j < 4; j++, q += 32) {
            uint8_t sc, m;
            lr_k4_scale_min(2 * j, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            lr_k4_scale_min(2 * j + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

// Each Q4_K sub-block of 32 values is d·sc·q − dmin·m with 4-bit q: a Q4_1 block (d'·q + m')
// once the two products are rounded to f16. The quants are kept and only re-packed (Q4_K puts
// sub-blocks 2j and 2j+1 in the low and high nibbles of the same 32 bytes, Q4_1 puts values
// l and l+16 of one block in one byte), so the only change is that rounding: 2^-11 of a scale.
/// Sub-block j (32 values) of a Q4_K or Q5_K super-block as a Q4_1 or Q5_1 block: its scale
/// and min rounded to f16, its nibbles re-packed, and (qh given, Q5_K) its fifth bits, which
/// Q5_K keeps as bit j of qh[l] for value l.
static void k_sub_block(float d, float dmin, const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, int j,
                        uint16_t *out_d, uint16_t *out_m, uint8_t out_qs[16], uint8_t *out_qh) {
    uint8_t sc, m;
    lr_k4_scale_min(j, scales, &sc, &m);
    *out_d = lr_f32_to_f16_inline(d * sc);
    *out_m = lr_f32_to_f16_inline(-(dmin * m));
    const uint8_t *q = qs + (j / 2) * 32;
    const int shift = (j % 2) * 4;
    uint32_t bits = 0;
    for (int l = 0; l < 16; l++) {
        const uint8_t lo = (q[l] >> shift) & 0x0f, hi = (q[l + 16] >> shift) & 0x0f;
        out_qs[l] = (uint8_t)(lo | (hi << 4));
        if (qh) bits |= (uint32_t)(qh[l] >> j & 1) << l | (uint32_t)(qh[l + 16] >> j & 1) << (l + 16);
    }
    if (out_qh)
        for (int k = 0; k < 4; k++) out_qh[k] = (uint8_t)(bits >> (8 * k));
}

void lr_convert_row_q4_K_to_q4_1(const void *src, void *dst, int64_t n) {
    const lr_block_q4_K *x = src;
    lr_block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        for (int j = 0; j < 8; j++) {
            lr_block_q4_1 *b = y + i * 8 + j;
            k_sub_block(FP16(x[i].d), FP16(x[i].dmin), x[i].scales, x[i].qs, NULL, j, &b->d, &b->m, b->qs, NULL);
        }
    }
}

void lr_convert_row_q5_K_to_q5_1(const void *src, void *dst, int64_t n) {
    const lr_block_q5_K *x = src;
    lr_block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        for (int j = 0; j < 8; j++) {
            lr_block_q5_1 *b = y + i * 8 + j;
            k_sub_block(FP16(x[i].d), FP16(x[i].dmin), x[i].scales, x[i].qs, x[i].qh, j, &b->d, &b->m, b->qs, b->qh);
        }
    }
}

void lr_dequantize_row_q5_K(const void *src, float *dst, int64_t n) {
    const lr_block_q5_K *x = src;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d);
        const float dmin = FP16(x[i].dmin);
        const uint8_t *ql = x[i].qs;
        const uint8_t *qh = x[i].qh;
        float *y = dst + i * LR_QK_K;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 4; j++, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            lr_k4_scale_min(2 * j, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            lr_k4_scale_min(2 * j + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0x0f) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

void lr_dequantize_row_q6_K(const void *src, float *dst, int64_t n) {
    const lr_block_q6_K *x = src;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d);
        const uint8_t *ql = x[i].ql;
        const uint8_t *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        float *y = dst + i * LR_QK_K;
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int s = l / 16;
                const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[s] * q1;
                y[l + 32] = d * sc[s + 2] * q2;
                y[l + 64] = d * sc[s + 4] * q3;
                y[l + 96] = d * sc[s + 6] * q4;
            }
        }
    }
}

const int8_t lr_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void lr_dequantize_row_iq4_nl(const void *src, float *dst, int64_t n) {
    const lr_block_iq4_nl *x = src;
    for (int64_t i = 0; i < n / LR_QK; i++) {
        const float d = FP16(x[i].d);
        float *y = dst + i * LR_QK;
        for (int j = 0; j < LR_QK / 2; j++) {
            y[j] = d * lr_iq4_values[x[i].qs[j] & 0x0f];
            y[j + LR_QK / 2] = d * lr_iq4_values[x[i].qs[j] >> 4];
        }
    }
}

/// Sub-block `j`'s 6-bit scale of an IQ4_XS super-block, offset so that 0 means -32.
static inline int iq4_xs_scale(const lr_block_iq4_xs *b, int j) {
    const int lo = (b->scales_l[j / 2] >> (4 * (j % 2))) & 0x0f;
    const int hi = (b->scales_h >> (2 * j)) & 0x03;
    return (lo | (hi << 4)) - 32;
}

void lr_dequantize_row_iq4_xs(const void *src, float *dst, int64_t n) {
    const lr_block_iq4_xs *x = src;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d);
        for (int j = 0; j < LR_QK_K / 32; j++) {
            const float dl = d * iq4_xs_scale(&x[i], j);
            const uint8_t *qs = x[i].qs + j * 16;
            float *y = dst + i * LR_QK_K + j * 32;
            for (int l = 0; l < 16; l++) {
                y[l] = dl * lr_iq4_values[qs[l] & 0x0f];
                y[l + 16] = dl * lr_iq4_values[qs[l] >> 4];
            }
        }
    }
}

void lr_convert_row_iq4_xs_to_iq4_nl(const void *src, void *dst, int64_t n) {
    const lr_block_iq4_xs *x = src;
    lr_block_iq4_nl *y = dst;
    for (int64_t i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d);
        for (int j = 0; j < LR_QK_K / 32; j++) {
            lr_block_iq4_nl *b = y + i * 8 + j;
            b->d = lr_f32_to_f16_inline(d * iq4_xs_scale(&x[i], j));
            memcpy(b->qs, x[i].qs + j * 16, 16);
        }
    }
}

int lr_dequantize_row(int ggml_type, const void *src, float *dst, int64_t n) {
    switch (ggml_type) {
    case LR_TYPE_F32: lr_dequantize_row_f32(src, dst, n); return 0;
    case LR_TYPE_F16: lr_dequantize_row_f16(src, dst, n); return 0;
    case LR_TYPE_BF16: lr_dequantize_row_bf16(src, dst, n); return 0;
    case LR_TYPE_Q8_0: lr_dequantize_row_q8_0(src, dst, n); return 0;
    case LR_TYPE_Q4_0: lr_dequantize_row_q4_0(src, dst, n); return 0;
    case LR_TYPE_Q4_1: lr_dequantize_row_q4_1(src, dst, n); return 0;
    case LR_TYPE_Q5_0: lr_dequantize_row_q5_0(src, dst, n); return 0;
    case LR_TYPE_Q5_1: lr_dequantize_row_q5_1(src, dst, n); return 0;
    case LR_TYPE_Q2_K: lr_dequantize_row_q2_K(src, dst, n); return 0;
    case LR_TYPE_Q3_K: lr_dequantize_row_q3_K(src, dst, n); return 0;
    case LR_TYPE_Q4_K: lr_dequantize_row_q4_K(src, dst, n); return 0;
    case LR_TYPE_Q5_K: lr_dequantize_row_q5_K(src, dst, n); return 0;
    case LR_TYPE_Q6_K: lr_dequantize_row_q6_K(src, dst, n); return 0;
    case LR_TYPE_IQ4_NL: lr_dequantize_row_iq4_nl(src, dst, n); return 0;
    case LR_TYPE_IQ4_XS: lr_dequantize_row_iq4_xs(src, dst, n); return 0;
    default:
        if (lr_dequantize_row_iq_grid(ggml_type, src, dst, n) == 0) return 0;
        if (lr_dequantize_row_ternary(ggml_type, src, dst, n) == 0) return 0;
        return lr_dequantize_row_q1_q2(ggml_type, src, dst, n);
    }
}
