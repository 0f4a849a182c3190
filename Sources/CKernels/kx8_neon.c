// NEON mat-muls on x8 K-quants (Q2_K to Q6_K) with Q8_0 activations, plain ARMv8 (SMULL/SMLAL)
// and ARMv8.2 dotprod (SDOT by lane): the NEON backends' gemm_kx8. Layout and plan as
// kx8_avx512.c: a 16-byte quant vector holds 4 rows x 4 consecutive values, one broadcast
// activation word multiplies 4 rows, and each 32-value block's quants are unpacked once for a
// tile of tokens. Quants are unsigned (Q4_K 0..15, Q6_K 0..63, its -32 starting the int32 sums)
// and below 128, so they multiply as int8 unchanged; plain NEON's int16 products of two words
// reach 2 x 63 x 128 = 16128 before they widen.
// Q5_K's fifth bits join Q4_K's nibbles as in kx8_avx512.c.
#include "interleave_internal.h"

#include <stdlib.h>

#if defined(__aarch64__)
#include <arm_neon.h>

enum { KN_NT = 4 };  // tokens per tile (each unpacked block serves them all)

/// Per token and 32-value block, as kx8_avx512.c's.
typedef struct {
    float da, sa;
    int32_t s0, s1;
    float ml, mh;
} kn_act;

static void prep_acts(const uint8_t *a, size_t a_row_bytes, int nt, int nb, kn_act *acts) {
    for (int t = 0; t < nt; t++) {
        const lr_block_q8_0 *ab = (const lr_block_q8_0 *)(a + (size_t)t * a_row_bytes);
        for (int b = 0; b < nb; b++) {
            const int lo = vaddlvq_s8(vld1q_s8(ab[b].qs)), hi = vaddlvq_s8(vld1q_s8(ab[b].qs + 16));
            const float d = lr_f16_to_f32_inline(ab[b].d);
            acts[(size_t)t * nb + b] = (kn_act){d, d * (float)(lo + hi), -32 * lo, -32 * hi, d * (float)lo, d * (float)hi};
        }
    }
}

/// The 8 halves at p as floats (rows 0-3, 4-7).
LR_INLINE void kn_halves(const uint8_t *p, float32x4_t out[2]) {
    const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(p));
    out[0] = vcvt_f32_f16(vget_low_f16(h));
    out[1] = vcvt_high_f32_f16(h);
}

/// Byte `byte` of each lane, unsigned / signed, as floats.
LR_INLINE float32x4_t kn_byte_u(uint32x4_t v, int byte) {
    return vcvtq_f32_u32(vandq_u32(vshlq_u32(v, vdupq_n_s32(-8 * byte)), vdupq_n_u32(0xff)));
}
LR_INLINE float32x4_t kn_byte_s(uint32x4_t v, int byte) {
    const int32x4_t up = vshlq_s32(vreinterpretq_s32_u32(v), vdupq_n_s32(24 - 8 * byte));
    return vcvtq_f32_s32(vshlq_s32(up, vdupq_n_s32(-24)));
}

/// Per-row float scales of one super-block column for 8 rows ([rows 4h..4h+3]): sc[s][h] for
/// each sub-block s (8 for Q4_K, with mn its mins; 16 for Q6_K, Q3_K, and Q2_K with its mins), d
/// (dmin) folded in.
LR_INLINE void kn_scales(const uint8_t *blk, const int wtype, float32x4_t sc[16][2], float32x4_t mn[16][2]) {
    float32x4_t d[2], dmin[2];
    kn_halves(blk, d);
    if (wtype == LR_TYPE_Q2_K) {  // scale s: low nibble of byte s % 4 of word s / 4, its min the high one
        kn_halves(blk + 16, dmin);
        const uint32x4_t n4 = vdupq_n_u32(0x0f0f0f0fu);
        for (int h = 0; h < 2; h++)
            for (int q = 0; q < 4; q++) {
                const uint32x4_t u = vld1q_u32((const uint32_t *)(blk + lr_kx8_word(wtype, q) + 16 * h));
                const uint32x4_t lo = vandq_u32(u, n4), hi = vandq_u32(vshrq_n_u32(u, 4), n4);
                for (int j = 0; j < 4; j++) {
                    sc[4 * q + j][h] = vmulq_f32(d[h], kn_byte_u(lo, j));
                    mn[4 * q + j][h] = vmulq_f32(dmin[h], kn_byte_u(hi, j));
                }
            }
    } else if (wtype == LR_TYPE_Q3_K) {  // as lr_q3k_scales (avx2_int8.h), minus 32 as signed bytes
        const uint32x4_t n4 = vdupq_n_u32(0x0f0f0f0fu), m2 = vdupq_n_u32(0x03030303u);
        for (int h = 0; h < 2; h++) {
            const uint32x4_t u0 = vld1q_u32((const uint32_t *)(blk + lr_kx8_word(wtype, 24) + 16 * h)),
                             u1 = vld1q_u32((const uint32_t *)(blk + lr_kx8_word(wtype, 25) + 16 * h)),
                             u2 = vld1q_u32((const uint32_t *)(blk + lr_kx8_word(wtype, 26) + 16 * h));
            const uint32x4_t lo[4] = {u0, u1, vshrq_n_u32(u0, 4), vshrq_n_u32(u1, 4)};
            for (int q = 0; q < 4; q++) {
                const uint32x4_t top = vshlq_n_u32(vandq_u32(vshlq_u32(u2, vdupq_n_s32(-2 * q)), m2), 4);
                const uint8x16_t b6 = vreinterpretq_u8_u32(vorrq_u32(vandq_u32(lo[q], n4), top));
                const uint32x4_t sv = vreinterpretq_u32_u8(vsubq_u8(b6, vdupq_n_u8(32)));
                for (int j = 0; j < 4; j++) sc[4 * q + j][h] = vmulq_f32(d[h], kn_byte_s(sv, j));
            }
        }
    } else if (wtype != LR_TYPE_Q6_K) {
        kn_halves(blk + 16, dmin);
        const uint8_t *w = blk + lr_kx8_word(wtype, 0);
        const uint32x4_t m6 = vdupq_n_u32(0x3f3f3f3fu), m4 = vdupq_n_u32(0x0f0f0f0fu), m2 = vdupq_n_u32(0x03030303u);
        for (int h = 0; h < 2; h++) {
            // lr_k4_scale_min for 4 rows at once (see kx8_avx512.c)
            const uint32x4_t u0 = vld1q_u32((const uint32_t *)(w + 16 * h)),
                             u1 = vld1q_u32((const uint32_t *)(w + 32 + 16 * h)),
                             u2 = vld1q_u32((const uint32_t *)(w + 64 + 16 * h));
            const uint32x4_t s[2] = {vandq_u32(u0, m6),
                                     vorrq_u32(vandq_u32(u2, m4), vshlq_n_u32(vandq_u32(vshrq_n_u32(u0, 6), m2), 4))};
            const uint32x4_t m[2] = {vandq_u32(u1, m6),
                                     vorrq_u32(vandq_u32(vshrq_n_u32(u2, 4), m4), vshlq_n_u32(vandq_u32(vshrq_n_u32(u1, 6), m2), 4))};
            for (int j = 0; j < 8; j++) {
                sc[j][h] = vmulq_f32(d[h], kn_byte_u(s[j / 4], j % 4));
                mn[j][h] = vmulq_f32(dmin[h], kn_byte_u(m[j / 4], j % 4));
            }
        }
    } else {
        const uint8_t *w = blk + lr_kx8_word(LR_TYPE_Q6_K, 48);
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 16; j++)
                sc[j][h] = vmulq_f32(d[h], kn_byte_s(vld1q_u32((const uint32_t *)(w + 32 * (j / 4) + 16 * h)), j % 4));
    }
}

/// Activation block B's quants of a super-block column, unsigned: q[w][h] holds values
/// 32B + 4w..+3 of rows 4h..4h+3 (the walk of kx8_avx512.c's q4k_pair / q6k_pair).
LR_INLINE void kn_quants(const uint8_t *blk, const int wtype, int B, int8x16_t q[8][2]) {
    const uint8x16_t nibble = vdupq_n_u8(0x0f);
    for (int w = 0; w < 8; w++)
        for (int h = 0; h < 2; h++) {
            if (wtype == LR_TYPE_Q4_K || wtype == LR_TYPE_Q5_K) {
                const int five = wtype == LR_TYPE_Q5_K;
                const uint8x16_t v = vld1q_u8(blk + lr_kx8_word(wtype, (five ? 11 : 3) + 8 * (B / 2) + w) + 16 * h);
                uint8x16_t u = B % 2 ? vshrq_n_u8(v, 4) : vandq_u8(v, nibble);
                if (five) {  // Q5_K: bit B of qh word w's bytes to bit 4
                    const uint8x16_t hb = vld1q_u8(blk + lr_kx8_word(wtype, 3 + w) + 16 * h);
                    u = vorrq_u8(u, vandq_u8(vshlq_u8(hb, vdupq_n_s8((int8_t)(4 - B))), vdupq_n_u8(0x10)));
                }
                q[w][h] = vreinterpretq_s8_u8(u);
            } else if (wtype == LR_TYPE_Q2_K || wtype == LR_TYPE_Q3_K) {
                // block B = 4 half + g: bits 2g of qs words 8 half + w, Q3_K's bit B of hmask word w
                const int three = wtype == LR_TYPE_Q3_K, half = B / 4, g = B % 4;
                const uint8x16_t v = vld1q_u8(blk + lr_kx8_word(wtype, (three ? 8 : 4) + 8 * half + w) + 16 * h);
                uint8x16_t u = vandq_u8(vshlq_u8(v, vdupq_n_s8((int8_t)(-2 * g))), vdupq_n_u8(0x03));
                if (three) {
                    const uint8x16_t hb = vld1q_u8(blk + lr_kx8_word(wtype, w) + 16 * h);
                    u = vorrq_u8(u, vandq_u8(vshlq_u8(hb, vdupq_n_s8((int8_t)(2 - B))), vdupq_n_u8(0x04)));
                }
                q[w][h] = vreinterpretq_s8_u8(u);
            } else {
                const int half = B / 4, qq = B % 4;
                const uint8x16_t l = vld1q_u8(blk + lr_kx8_word(LR_TYPE_Q6_K, 16 * half + 8 * (qq % 2) + w) + 16 * h);
                const uint8x16_t hb = vld1q_u8(blk + lr_kx8_word(LR_TYPE_Q6_K, 32 + 8 * half + w) + 16 * h);
                const uint8x16_t lo = qq < 2 ? vandq_u8(l, nibble) : vshrq_n_u8(l, 4);
                // bits 2qq..2qq+1 of each byte to bits 4..5
                const uint8x16_t hi = vandq_u8(vshlq_u8(hb, vdupq_n_s8((int8_t)(4 - 2 * qq))), vdupq_n_u8(0x30));
                q[w][h] = vreinterpretq_s8_u8(vorrq_u8(lo, hi));
            }
        }
}

/// Sums of words 4p..4p+3 (p = 0, 1) of q against the activation block at aq, for rows 4h..4h+3.
#define KN_ISUMS(SUFFIX, TARGET, ...)                                                                  \
    LR_INLINE TARGET void kn_isums_##SUFFIX(int8x16_t q[8][2], const int8_t *aq, int32x4_t s[2][2]) { \
        __VA_ARGS__                                                                                    \
    }
KN_ISUMS(neon_dotprod, LR_TARGET_DOTPROD, {
    const int8x16_t alo = vld1q_s8(aq), ahi = vld1q_s8(aq + 16);
    for (int h = 0; h < 2; h++) {
        int32x4_t s0 = vdupq_n_s32(0), s1 = vdupq_n_s32(0);
        s0 = vdotq_laneq_s32(s0, q[0][h], alo, 0);
        s0 = vdotq_laneq_s32(s0, q[1][h], alo, 1);
        s0 = vdotq_laneq_s32(s0, q[2][h], alo, 2);
        s0 = vdotq_laneq_s32(s0, q[3][h], alo, 3);
        s1 = vdotq_laneq_s32(s1, q[4][h], ahi, 0);
        s1 = vdotq_laneq_s32(s1, q[5][h], ahi, 1);
        s1 = vdotq_laneq_s32(s1, q[6][h], ahi, 2);
        s1 = vdotq_laneq_s32(s1, q[7][h], ahi, 3);
        s[0][h] = s0;
        s[1][h] = s1;
    }
})
KN_ISUMS(neon, , {
    for (int p = 0; p < 2; p++)
        for (int h = 0; h < 2; h++) {
            int32x4_t r01 = vdupq_n_s32(0), r23 = vdupq_n_s32(0);  // rows 4h, 4h+1 | 4h+2, 4h+3: pair sums
            for (int w = 4 * p; w < 4 * p + 4; w += 2) {
                int32_t w0, w1;
                memcpy(&w0, aq + 4 * w, 4);
                memcpy(&w1, aq + 4 * w + 4, 4);
                const int8x8_t a0 = vreinterpret_s8_s32(vdup_n_s32(w0)), a1 = vreinterpret_s8_s32(vdup_n_s32(w1));
                int16x8_t lo = vmull_s8(vget_low_s8(q[w][h]), a0), hi = vmull_s8(vget_high_s8(q[w][h]), a0);
                lo = vmlal_s8(lo, vget_low_s8(q[w + 1][h]), a1);
                hi = vmlal_s8(hi, vget_high_s8(q[w + 1][h]), a1);
                r01 = vpadalq_s16(r01, lo);
                r23 = vpadalq_s16(r23, hi);
            }
            s[p][h] = vpaddq_s32(r01, r23);
        }
})

/// One group (8 rows) against NT tokens.
#define KN_GROUP(SUFFIX, TARGET)                                                                                     \
    static TARGET void kn_group_##SUFFIX(const uint8_t *grp, int nsb, const int wtype, const uint8_t *a,              \
                                         size_t a_row_bytes, const kn_act *acts, int nb, float *out, size_t out_ld,  \
                                         int NT) {                                                                   \
        const size_t bb = lr_x8_block_bytes(wtype);                                                                  \
        float32x4_t acc[KN_NT][2];                                                                                   \
        for (int j = 0; j < NT; j++) acc[j][0] = acc[j][1] = vdupq_n_f32(0);                                         \
        for (int b = 0; b < nsb; b++) {                                                                              \
            const uint8_t *blk = grp + (size_t)b * bb;                                                               \
            float32x4_t sc[16][2], mn[16][2];                                                                        \
            kn_scales(blk, wtype, sc, mn);                                                                           \
            for (int B = 0; B < 8; B++) {                                                                            \
                int8x16_t q[8][2];                                                                                   \
                kn_quants(blk, wtype, B, q);                                                                         \
                for (int j = 0; j < NT; j++) {                                                                       \
                    const int8_t *aq = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[8 * b + B].qs;         \
                    const kn_act *act = acts + (size_t)j * nb + 8 * b + B;                                           \
                    int32x4_t s[2][2];                                                                               \
                    kn_isums_##SUFFIX(q, aq, s);                                                                     \
                    for (int h = 0; h < 2; h++) {                                                                    \
                        if (wtype == LR_TYPE_Q4_K || wtype == LR_TYPE_Q5_K) {                                       \
                            const float32x4_t f = vcvtq_f32_s32(vaddq_s32(s[0][h], s[1][h]));                        \
                            acc[j][h] = vfmaq_f32(acc[j][h], f, vmulq_n_f32(sc[B][h], act->da));                     \
                            acc[j][h] = vfmsq_f32(acc[j][h], mn[B][h], vdupq_n_f32(act->sa));                        \
                        } else { /* two 16-value sub-blocks; Q6_K's -32 (Q3_K's -4) starts the sums */               \
                            const int sh = wtype == LR_TYPE_Q6_K ? 0 : 3;                                            \
                            const int32x4_t o0 = vdupq_n_s32(wtype == LR_TYPE_Q2_K ? 0 : act->s0 >> sh);             \
                            const int32x4_t o1 = vdupq_n_s32(wtype == LR_TYPE_Q2_K ? 0 : act->s1 >> sh);             \
                            const float32x4_t f0 = vcvtq_f32_s32(vaddq_s32(s[0][h], o0));                            \
                            const float32x4_t f1 = vcvtq_f32_s32(vaddq_s32(s[1][h], o1));                            \
                            const float32x4_t f = vfmaq_f32(vmulq_f32(f0, sc[2 * B][h]), f1, sc[2 * B + 1][h]);      \
                            acc[j][h] = vfmaq_n_f32(acc[j][h], f, act->da);                                          \
                            if (wtype == LR_TYPE_Q2_K) {                                                             \
                                acc[j][h] = vfmsq_n_f32(acc[j][h], mn[2 * B][h], act->ml);                           \
                                acc[j][h] = vfmsq_n_f32(acc[j][h], mn[2 * B + 1][h], act->mh);                       \
                            }                                                                                        \
                        }                                                                                            \
                    }                                                                                                \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
        for (int j = 0; j < NT; j++) {                                                                               \
            vst1q_f32(out + (size_t)j * out_ld, acc[j][0]);                                                          \
            vst1q_f32(out + (size_t)j * out_ld + 4, acc[j][1]);                                                      \
        }                                                                                                            \
    }                                                                                                                \
                                                                                                                     \
    int lr_gemm_kx8_##SUFFIX(int wtype, const void *w, int group_begin, int group_end, const void *a,                 \
                             size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld) {                       \
        if (wtype < LR_TYPE_Q2_K || wtype > LR_TYPE_Q6_K || k < 0 || k % LR_QK_K != 0 || group_begin < 0 ||     \
            group_end < group_begin || n_tok < 0)                                                                    \
            return -1;                                                                                               \
        if (group_begin == group_end || n_tok == 0 || k == 0) return 0;                                              \
        const int nb = k / LR_QK, nsb = k / LR_QK_K;                                                                 \
        const size_t gb = lr_x8_group_bytes(wtype, k);                                                               \
        kn_act *acts = malloc((size_t)KN_NT * nb * sizeof *acts);                                                    \
        if (!acts) return -1;                                                                                        \
        for (int t = 0; t < n_tok; t += KN_NT) {                                                                     \
            const int nt = n_tok - t < KN_NT ? n_tok - t : KN_NT;                                                    \
            const uint8_t *at = (const uint8_t *)a + (size_t)t * a_row_bytes;                                        \
            prep_acts(at, a_row_bytes, nt, nb, acts);                                                                \
            for (int g = group_begin; g < group_end; g++)                                                            \
                kn_group_##SUFFIX((const uint8_t *)w + (size_t)g * gb, nsb, wtype, at, a_row_bytes, acts, nb,        \
                                  out + (size_t)t * out_ld + 8 * (size_t)g, out_ld, nt);                             \
        }                                                                                                            \
        free(acts);                                                                                                  \
        return 0;                                                                                                    \
    }
KN_GROUP(neon, )
KN_GROUP(neon_dotprod, LR_TARGET_DOTPROD)

#endif
