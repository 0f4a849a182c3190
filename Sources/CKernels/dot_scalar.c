// Plain C dot products and mat-mul: the reference every SIMD backend is tested against.
// Integer sums per block are exact; floats are accumulated block by block in order.
#include <stdlib.h>
#include "kernels_internal.h"

#define FP16(h) lr_f16_to_f32_inline(h)

void lr_vec_dot_q8_0_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_q8_0 *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int b = 0; b < n / LR_QK; b++) {
        int isum = 0;
        for (int j = 0; j < LR_QK; j++) isum += x[b].qs[j] * y[b].qs[j];
        sum += (float)isum * (FP16(x[b].d) * FP16(y[b].d));
    }
    *s = sum;
}

void lr_vec_dot_q4_0_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_q4_0 *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int b = 0; b < n / LR_QK; b++) {
        int isum = 0;
        for (int j = 0; j < LR_QK / 2; j++) {
            isum += ((x[b].qs[j] & 0x0f) - 8) * y[b].qs[j];
            isum += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + LR_QK / 2];
        }
        sum += (float)isum * (FP16(x[b].d) * FP16(y[b].d));
    }
    *s = sum;
}

// Q4_1 weights are d*q + m, so each block adds m * d_a * sum(q_a) to the integer part.
void lr_vec_dot_q4_1_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_q4_1 *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int b = 0; b < n / LR_QK; b++) {
        int isum = 0, asum = 0;
        for (int j = 0; j < LR_QK / 2; j++) {
            isum += (x[b].qs[j] & 0x0f) * y[b].qs[j];
            isum += (x[b].qs[j] >> 4) * y[b].qs[j + LR_QK / 2];
            asum += y[b].qs[j] + y[b].qs[j + LR_QK / 2];
        }
        const float da = FP16(y[b].d);
        sum += (float)isum * (FP16(x[b].d) * da) + FP16(x[b].m) * (da * (float)asum);
    }
    *s = sum;
}

// IQ4_NL weights are d * level[q]: Q4_0's integer sum with the table's levels for q - 8.
void lr_vec_dot_iq4_nl_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_iq4_nl *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int b = 0; b < n / LR_QK; b++) {
        int isum = 0;
        for (int j = 0; j < LR_QK / 2; j++) {
            isum += lr_iq4_values[x[b].qs[j] & 0x0f] * y[b].qs[j];
            isum += lr_iq4_values[x[b].qs[j] >> 4] * y[b].qs[j + LR_QK / 2];
        }
        sum += (float)isum * (FP16(x[b].d) * FP16(y[b].d));
    }
    *s = sum;
}

// Q5_0 weights are d * (q - 16), q's fifth bit from qh: Q4_0's sum with 5-bit values.
void lr_vec_dot_q5_0_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_q5_0 *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int b = 0; b < n / LR_QK; b++) {
        const uint32_t qh = lr_load_u32le(x[b].qh);
        int isum = 0;
        for (int j = 0; j < LR_QK / 2; j++) {
            const int lo = (x[b].qs[j] & 0x0f) | (int)((qh >> j & 1u) << 4);
            const int hi = (x[b].qs[j] >> 4) | (int)((qh >> (j + 16) & 1u) << 4);
            isum += (lo - 16) * y[b].qs[j] + (hi - 16) * y[b].qs[j + LR_QK / 2];
        }
        sum += (float)isum * (FP16(x[b].d) * FP16(y[b].d));
    }
    *s = sum;
}

// Q5_1 weights are d * q + m with Q5_0's 5-bit q: Q4_1's sums.
void lr_vec_dot_q5_1_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_q5_1 *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int b = 0; b < n / LR_QK; b++) {
        const uint32_t qh = lr_load_u32le(x[b].qh);
        int isum = 0, asum = 0;
        for (int j = 0; j < LR_QK / 2; j++) {
            const int lo = (x[b].qs[j] & 0x0f) | (int)((qh >> j & 1u) << 4);
            const int hi = (x[b].qs[j] >> 4) | (int)((qh >> (j + 16) & 1u) << 4);
            isum += lo * y[b].qs[j] + hi * y[b].qs[j + LR_QK / 2];
            asum += y[b].qs[j] + y[b].qs[j + LR_QK / 2];
        }
        const float da = FP16(y[b].d);
        sum += (float)isum * (FP16(x[b].d) * da) + FP16(x[b].m) * (da * (float)asum);
    }
    *s = sum;
}

int lr_gemm_q8_scalar(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                      const void *a, size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld) {
    lr_vec_dot_fn dot;
    switch (wtype) {
    case LR_TYPE_Q8_0: dot = lr_vec_dot_q8_0_q8_0_scalar; break;
    case LR_TYPE_Q4_0: dot = lr_vec_dot_q4_0_q8_0_scalar; break;
    case LR_TYPE_Q4_1: dot = lr_vec_dot_q4_1_q8_0_scalar; break;
    case LR_TYPE_IQ4_NL: dot = lr_vec_dot_iq4_nl_q8_0_scalar; break;
    case LR_TYPE_Q5_0: dot = lr_vec_dot_q5_0_q8_0_scalar; break;
    case LR_TYPE_Q5_1: dot = lr_vec_dot_q5_1_q8_0_scalar; break;
    case LR_TYPE_Q4_K: dot = lr_vec_dot_q4_K_q8_0_scalar; break;
    case LR_TYPE_Q5_K: dot = lr_vec_dot_q5_K_q8_0_scalar; break;
    case LR_TYPE_Q6_K: dot = lr_vec_dot_q6_K_q8_0_scalar; break;
    case LR_TYPE_Q2_K: dot = lr_vec_dot_q2_K_q8_0_scalar; break;
    case LR_TYPE_Q3_K: dot = lr_vec_dot_q3_K_q8_0_scalar; break;
    default: return -1;
    }
    if (k % (wtype >= LR_TYPE_Q2_K && wtype <= LR_TYPE_Q6_K ? LR_QK_K : LR_QK) != 0 || row_begin < 0 || row_end < row_begin || n_tok < 0) return -1;
    for (int t = 0; t < n_tok; t++) {
        const char *at = (const char *)a + (size_t)t * a_row_bytes;
        for (int r = row_begin; r < row_end; r++) {
            dot(k, out + (size_t)t * out_ld + (size_t)r, (const char *)w + (size_t)r * w_row_bytes, at);
        }
    }
    return 0;
}

int lr_gemm_f32a_scalar(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                        const float *a, size_t a_ld, int n_tok, int k, float *out, size_t out_ld) {
    const int kq = wtype >= LR_TYPE_Q2_K && wtype <= LR_TYPE_Q6_K;
    if (wtype != LR_TYPE_Q8_0 && wtype != LR_TYPE_Q4_0 && wtype != LR_TYPE_Q4_1 && wtype != LR_TYPE_IQ4_NL &&
        wtype != LR_TYPE_Q5_0 && wtype != LR_TYPE_Q5_1 && !kq)
        return -1;
    if (k < 0 || k % (kq ? LR_QK_K : LR_QK) != 0 || row_begin < 0 || row_end < row_begin || n_tok < 0) return -1;
    if (row_begin == row_end || n_tok == 0) return 0;
    float *row = malloc((size_t)(k > 0 ? k : 1) * sizeof(float));
    if (!row) return -1;
    for (int r = row_begin; r < row_end; r++) {
        lr_dequantize_row(wtype, (const char *)w + (size_t)r * w_row_bytes, row, k);
        for (int t = 0; t < n_tok; t++) {
            const float *at = a + (size_t)t * a_ld;
            double sum = 0.0;
            for (int i = 0; i < k; i++) sum += (double)row[i] * at[i];
            out[(size_t)t * out_ld + (size_t)r] = (float)sum;
        }
    }
    free(row);
    return 0;
}

// K-quants against Q8_0 activations: each 32-value activation block meets one Q4_K / Q5_K
// sub-block (x = d*sc*q - dmin*m) or two Q6_K ones (x = d*sc*(q - 32), 16 values each), so the
// activations stay in the format every other kernel reads. Q6_K's two scales are applied in
// integers (exact); Q4_K's and Q5_K's scale and min are floats, as in the Q4_1 dot.

/// Value j (0..255) of a Q4_K / Q5_K super-block, unsigned: sub-block j / 32 uses the low
/// nibbles of qs[32 * (j / 64) ..] when even, the high ones when odd; Q5_K's fifth bit of value
/// j is bit j / 32 of qh[j % 32].
LR_INLINE int k45_quant(const uint8_t *qs, const uint8_t *qh, int j) {
    const uint8_t byte = qs[32 * (j / 64) + j % 32];
    int q = (j / 32) % 2 ? byte >> 4 : byte & 0x0f;
    if (qh) q |= (qh[j % 32] >> (j / 32) & 1) << 4;
    return q;
}

static void vec_dot_k45(int n, float *s, const void *w, const void *a, int five) {
    const uint8_t *x = w;
    const lr_block_q8_0 *y = a;
    const size_t bb = five ? sizeof(lr_block_q5_K) : sizeof(lr_block_q4_K);
    float sum = 0.0f;
    for (int i = 0; i < n / LR_QK_K; i++, x += bb) {
        const lr_block_q4_K *hdr = (const lr_block_q4_K *)x;  // d, dmin, scales: the same in Q5_K
        const uint8_t *qh = five ? ((const lr_block_q5_K *)x)->qh : NULL;
        const uint8_t *qs = five ? ((const lr_block_q5_K *)x)->qs : hdr->qs;
        const float d = FP16(hdr->d), dmin = FP16(hdr->dmin);
        for (int sb = 0; sb < 8; sb++) {
            const lr_block_q8_0 *ab = &y[8 * i + sb];
            uint8_t sc, m;
            lr_k4_scale_min(sb, hdr->scales, &sc, &m);
            int isum = 0, asum = 0;
            for (int l = 0; l < 32; l++) {
                isum += k45_quant(qs, qh, 32 * sb + l) * ab->qs[l];
                asum += ab->qs[l];
            }
            const float da = FP16(ab->d);
            sum += (float)isum * (d * (float)sc * da) - dmin * (float)m * (da * (float)asum);
        }
    }
    *s = sum;
}

void lr_vec_dot_q4_K_q8_0_scalar(int n, float *s, const void *w, const void *a) { vec_dot_k45(n, s, w, a, 0); }
void lr_vec_dot_q5_K_q8_0_scalar(int n, float *s, const void *w, const void *a) { vec_dot_k45(n, s, w, a, 1); }

/// Value j (0..255) of a Q6_K super-block, unsigned (0..63): in each half of 128, value v's low
/// bits are a nibble of ql[64h + v % 64] (high nibble from v = 64 on) and its high two bits sit
/// at 2 * (v / 32) in qh[32h + v % 32].
LR_INLINE int q6_quant(const lr_block_q6_K *x, int j) {
    const int h = j / 128, v = j % 128;
    const uint8_t lo = x->ql[64 * h + v % 64];
    return (v < 64 ? lo & 0x0f : lo >> 4) | ((x->qh[32 * h + v % 32] >> (2 * (v / 32)) & 3) << 4);
}

void lr_vec_dot_q6_K_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_q6_K *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d);
        for (int b = 0; b < 8; b++) {
            const lr_block_q8_0 *ab = &y[8 * i + b];
            int isum = 0;
            for (int half = 0; half < 2; half++) {
                int part = 0;
                for (int l = 16 * half; l < 16 * half + 16; l++) part += (q6_quant(&x[i], 32 * b + l) - 32) * ab->qs[l];
                isum += x[i].scales[2 * b + half] * part;
            }
            sum += (float)isum * (d * FP16(ab->d));
        }
    }
    *s = sum;
}

// Q2_K and Q3_K: as Q6_K, each 32-value activation block meets two 16-value sub-blocks. Value j
// of a super-block sits in half h = j / 128: its low two bits at bits 2g of qs[32h + l] (g = j %
// 128 / 32, l = j % 32), Q3_K's third bit at bit 4h + g = j / 32 of hmask[l]. Q2_K's mins come
// off as floats (dmin differs from d), as in the Q4_K dot.

/// Bits 0..1 of value j (0..255) of a Q2_K / Q3_K super-block.
LR_INLINE int k23_low(const uint8_t *qs, int j) { return qs[32 * (j / 128) + j % 32] >> (2 * (j % 128 / 32)) & 3; }

void lr_vec_dot_q2_K_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_q2_K *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d), dmin = FP16(x[i].dmin);
        for (int b = 0; b < 8; b++) {
            const lr_block_q8_0 *ab = &y[8 * i + b];
            int isum = 0, msum = 0;
            for (int half = 0; half < 2; half++) {
                const int sb = 2 * b + half;
                int part = 0, asum = 0;
                for (int l = 16 * half; l < 16 * half + 16; l++) {
                    part += k23_low(x[i].qs, 32 * b + l) * ab->qs[l];
                    asum += ab->qs[l];
                }
                isum += (x[i].scales[sb] & 0x0f) * part;
                msum += (x[i].scales[sb] >> 4) * asum;
            }
            const float da = FP16(ab->d);
            sum += (float)isum * (d * da) - dmin * (da * (float)msum);
        }
    }
    *s = sum;
}

/// Scale s (0..15) of a Q3_K super-block, 0..63 (the value's scale is this - 32): its low four
/// bits are a nibble of scales[s % 8] (the high one from s = 8 on), its top two bits 2 (s / 4)
/// of scales[8 + s % 4].
LR_INLINE int q3k_scale(const uint8_t *sc, int s) {
    return ((s < 8 ? sc[s] : sc[s - 8] >> 4) & 0x0f) | (sc[8 + s % 4] >> (2 * (s / 4)) & 3) << 4;
}

void lr_vec_dot_q3_K_q8_0_scalar(int n, float *s, const void *w, const void *a) {
    const lr_block_q3_K *x = w;
    const lr_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int i = 0; i < n / LR_QK_K; i++) {
        const float d = FP16(x[i].d);
        for (int b = 0; b < 8; b++) {
            const lr_block_q8_0 *ab = &y[8 * i + b];
            int isum = 0;
            for (int half = 0; half < 2; half++) {
                int part = 0;
                for (int l = 16 * half; l < 16 * half + 16; l++) {
                    const int q = k23_low(x[i].qs, 32 * b + l) | (x[i].hmask[l] >> b & 1) << 2;  // b = j / 32
                    part += (q - 4) * ab->qs[l];
                }
                isum += (q3k_scale(x[i].scales, 2 * b + half) - 32) * part;
            }
            sum += (float)isum * (d * FP16(ab->d));
        }
    }
    *s = sum;
}
