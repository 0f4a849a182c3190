// NEON mat-muls on x8 weights (Q4_0 / Q4_1 / Q5_0 / Q5_1 / IQ4_NL / Q8_0 rows interleaved in groups of 8, see
// ckernels.h), in the two flavours of dot_neon.c: plain ARMv8 (SMULL/SMLAL) and ARMv8.2 dotprod
// (SDOT by lane).
//
// One 16-byte quant vector holds 4 rows x 4 consecutive values, so a broadcast 4-byte activation
// word multiplies 4 rows at once and the products of a row stay in its own lanes: no horizontal
// sums per row, and one nibble unpack (Q8_0: one load) of the block column serves every token of
// a tile.
//
// Instructions per 8 rows x 32 values and token, executed in the tile functions at -O3 (counted
// under qemu over 64 extra blocks; the kernels' activation / weight-scale preparation excluded),
// x8 here vs the row layout's 4-row tiles of dot_neon.c, for 1 token | 6 tokens:
//                        clang 21 (Swift)               aarch64-linux-gnu-gcc 12
//                        x8            row              x8            row
//   neon          Q4_0   76 | 68.5     148 | 111        77 | 70.5     158 | 114
//   neon          Q4_1   77 | 73.5     190 | 128        79 | 71       168 | 119
//   neon+dotprod  Q4_0   53 | 35.7     124 | 83         55 | 39       130 | 84
//   neon+dotprod  Q4_1   57 | 38.3     166 | 99         59 | 42       142 | 95
//   neon          Q8_0   75 | 75       124 | 97         93 | 93       128 | 97
//   neon+dotprod  Q8_0   40 | 31       100 | 71         54 | 36.7     106 | 73
//   neon          IQ4_NL 102 | 102     -                107 | 107     -
//   neon+dotprod  IQ4_NL 68 | 42.7     -                70 | 45.3     -
// The row tiles unpack nibbles (and subtract Q4_0's 8), reduce partial sums and apply scales once
// per row; x8 does each once per 4 rows and folds the -8 into where the integer sums start. Q8_0
// multiplies as many bytes either way, so x8 saves only the reductions and scales (plain NEON:
// 32 SMULL/SMLAL + 16 SADALP + 2 ADDP per token, 1-token tiles, see X8_RN_NEON_Q8_0).
// IQ4_NL (x8 only) is Q4_0's unpack, 16 TBL to its levels, then Q8_0's products: 1.2-1.35x Q4_0's
// instructions at the same 4.5 bits a weight. Its rows were counted statically: the loop over
// block columns in objdump of the tile functions, which reproduces every figure above but gcc's
// Q8_0 dotprod 6-token one (42.3 counted that way).
#include "interleave_internal.h"

#include <stdlib.h>

#if defined(__aarch64__)
#include <arm_neon.h>

// Tokens per tile: each unpacked weight vector (16 live per block column) serves this many. With
// SDOT a token adds 2 accumulators and a few temporaries, and 3 fit the 32 vector registers (4
// spill). Plain NEON's 4 broadcast words and 4 int16 sums per token make 2 spill a few already,
// which still beats 1 token per tile (3 do not). Q8_0 needs no unpack, so a tile shares only the
// loads, and plain NEON's 16 weight vectors plus one token's 8 broadcast words and 4 int32 sums
// fill the registers already: with 2 tokens clang spills more than the shared loads save (81
// instructions a token instead of 75; gcc 90 instead of 93).
#define X8_RN_NEON 2
#define X8_RN_DOTPROD 3
#define X8_RN_NEON_Q8_0 1
#define X8_RN_DOTPROD_Q8_0 3

enum {
    X8_LANES = 4,         // tokens an x8_act record holds (>= either tile width)
    X8_TOKEN_CHUNK = 32,  // tokens prepared at a time (their activations stay in cache for all groups)
    X8_STACK_ACTS = 768,  // x8_act records in the stack buffer (24 KiB)
};

/// One activation block of a tile's tokens (lane = token), prepared once per call rather than
/// once per group, and laid out so a tile loads each field for all its tokens at once.
typedef struct {
    float d[X8_LANES];
    union {
        float dsum[X8_LANES];   // Q4_1: d * sum(a), the weight mins' factor
        int32_t off[X8_LANES];  // Q4_0: -8 * sum(a), where the integer sums start
    };
} x8_act;

typedef struct {
    const uint8_t *a;
    size_t a_row_bytes;
    int nb;
    const x8_act *act;  // [tile of the chunk][nb]
    float *out;
    size_t out_ld;
} x8_ctx;

/// Tokens [0, tn) of a chunk in tiles of rn; lanes without a token stay zero.
static void x8_prep(const uint8_t *a, size_t a_row_bytes, int tn, int rn, int nb, int wtype, x8_act *act) {
    memset(act, 0, (size_t)((tn + rn - 1) / rn) * nb * sizeof(x8_act));
    for (int t = 0; t < tn; t++) {
        const lr_block_q8_0 *ab = (const lr_block_q8_0 *)(a + (size_t)t * a_row_bytes);
        x8_act *p = act + (size_t)(t / rn) * nb;
        const int lane = t % rn;
        for (int b = 0; b < nb; b++) {
            __fp16 h;
            memcpy(&h, &ab[b].d, 2);
            const float d = (float)h;
            p[b].d[lane] = d;
            if (wtype == LR_TYPE_Q8_0 || wtype == LR_TYPE_IQ4_NL || wtype == LR_TYPE_Q5_0)
                continue;  // signed weights: no offset, no mins
            const int sum = vaddlvq_s8(vld1q_s8(ab[b].qs)) + vaddlvq_s8(vld1q_s8(ab[b].qs + 16));
            if (lr_x8_has_mins(wtype)) p[b].dsum[lane] = d * (float)sum;
            else p[b].off[lane] = -8 * sum;
        }
    }
}

/// The 8 halves at p as floats (rows 0-3, 4-7).
LR_INLINE void x8_halves(const uint8_t *p, float32x4_t out[2]) {
    const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(p));
    out[0] = vcvt_f32_f16(vget_low_f16(h));
    out[1] = vcvt_high_f32_f16(h);
}

/// A block column's quants as nibbles, [rows 4h..4h+3][chunk c]: lo[h][c] are values 4c..4c+3,
/// hi[h][c] values 16+4c..16+4c+3. Unsigned 0..15 (Q4_0's -8 comes in through x8_act.off), so
/// they multiply as int8 unchanged.
LR_INLINE void x8_unpack(const uint8_t *qs, int8x16_t lo[2][4], int8x16_t hi[2][4]) {
    const uint8x16x4_t q01 = vld1q_u8_x4(qs), q23 = vld1q_u8_x4(qs + 64);
    LR_UNROLL
    for (int v = 0; v < 8; v++) {
        const uint8x16_t q = v < 4 ? q01.val[v] : q23.val[v - 4];
        lo[v % 2][v / 2] = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f)));
        hi[v % 2][v / 2] = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
    }
}

/// Q8_0's block column in the same arrangement: lo[h][c] chunk c, hi[h][c] chunk 4 + c (values
/// 4c..4c+3 and 16+4c..16+4c+3 of rows 4h..4h+3), signed as stored.
LR_INLINE void x8_load_q8_0(const uint8_t *qs, int8x16_t lo[2][4], int8x16_t hi[2][4]) {
    LR_UNROLL
    for (int l = 0; l < 4; l++) {
        const int8x16x4_t q = vld1q_s8_x4((const int8_t *)qs + 64 * l);  // chunks 2l, 2l + 1
        LR_UNROLL
        for (int v = 0; v < 4; v++) {
            const int c = 2 * l + v / 2;
            if (c < 4) lo[v % 2][c] = q.val[v];
            else hi[v % 2][c - 4] = q.val[v];
        }
    }
}

/// IQ4_NL's block column in the same arrangement: Q4_0's nibbles, each replaced by its level
/// (TBL), so the chunks are signed bytes as Q8_0's.
LR_INLINE void x8_load_iq4_nl(const uint8_t *qs, int8x16_t lo[2][4], int8x16_t hi[2][4]) {
    const int8x16_t levels = vld1q_s8(lr_iq4_values);
    x8_unpack(qs, lo, hi);
    LR_UNROLL
    for (int h = 0; h < 2; h++) {
        LR_UNROLL
        for (int c = 0; c < 4; c++) {
            lo[h][c] = vqtbl1q_s8(levels, vreinterpretq_u8_s8(lo[h][c]));
            hi[h][c] = vqtbl1q_s8(levels, vreinterpretq_u8_s8(hi[h][c]));
        }
    }
}

/// Q5's block column in the same arrangement: Q4's nibbles with each value's fifth bit (16). Byte
/// 4r + k of lo[h][c] is value 4c + k of row 4h + r, whose bit is bit 4(c & 1) + k of byte c / 2
/// of the row's qh (hi: byte 2 + c / 2): TBL copies that byte into the row's four, TST picks each
/// byte's bit. Q5_1's stay unsigned (0..31, its mins come in as Q4_1's do); Q5_0's less 16 are
/// signed bytes (-16..15) as Q8_0's.
LR_INLINE void x8_load_q5(const uint8_t *blk, int8x16_t lo[2][4], int8x16_t hi[2][4], const int wtype) {
    x8_unpack(blk + lr_x8_qs_offset(wtype), lo, hi);
    const uint8x16_t sixteen = vdupq_n_u8(16);
    LR_UNROLL
    for (int h = 0; h < 2; h++) {
        const uint8x16_t qh = vld1q_u8(blk + lr_x8_qh_offset(wtype) + 16 * h);
        LR_UNROLL
        for (int c = 0; c < 4; c++) {
            const uint8_t b = (uint8_t)(c >> 1), s = (uint8_t)(4 * (c & 1));
            const uint8_t pick[16] = {b, b, b, b, 4 + b, 4 + b, 4 + b, 4 + b, 8 + b, 8 + b, 8 + b, 8 + b, 12 + b, 12 + b, 12 + b, 12 + b};
            const uint8_t bits[16] = {1 << s, 2 << s, 4 << s, 8 << s, 1 << s, 2 << s, 4 << s, 8 << s,
                                      1 << s, 2 << s, 4 << s, 8 << s, 1 << s, 2 << s, 4 << s, 8 << s};
            const uint8x16_t idx = vld1q_u8(pick), bit = vld1q_u8(bits);
            const uint8x16_t has_lo = vtstq_u8(vqtbl1q_u8(qh, idx), bit);
            const uint8x16_t has_hi = vtstq_u8(vqtbl1q_u8(qh, vaddq_u8(idx, vdupq_n_u8(2))), bit);
            if (wtype == LR_TYPE_Q5_0) {
                lo[h][c] = vsubq_s8(lo[h][c], vreinterpretq_s8_u8(vbicq_u8(sixteen, has_lo)));
                hi[h][c] = vsubq_s8(hi[h][c], vreinterpretq_s8_u8(vbicq_u8(sixteen, has_hi)));
            } else {
                lo[h][c] = vorrq_s8(lo[h][c], vreinterpretq_s8_u8(vandq_u8(sixteen, has_lo)));
                hi[h][c] = vorrq_s8(hi[h][c], vreinterpretq_s8_u8(vandq_u8(sixteen, has_hi)));
            }
        }
    }
}

/// One token's integer sums of rows 0-3 and 4-7 (s: where they start) with plain ARMv8. Each
/// SMULL/SMLAL multiplies 2 rows by a broadcast word; a lane collects 8 products, |sum| <= 8 * 15
/// * 128, so int16 holds it and the sum of two lanes (ADDP) too.
/// Q8_0 products reach 128 * 127 (activations stay within +-127), so a lane holds two (SMULL +
/// SMLAL of a chunk pair) before SADALP widens them into int32 pairs [row r, r, r + 1, r + 1],
/// which one ADDP per 4 rows folds.
LR_INLINE void x8_isums_neon(int32x4_t s[2], int8x16_t lo[2][4], int8x16_t hi[2][4], const int8_t *aq,
                             const int wtype) {
    // LD4R: the 4 words of each half of the block, each broadcast to a register (AArch64 loads
    // take any alignment).
    const int32x4x4_t alo = vld4q_dup_s32((const int32_t *)aq), ahi = vld4q_dup_s32((const int32_t *)(aq + 16));
    if (wtype == LR_TYPE_Q8_0 || wtype == LR_TYPE_IQ4_NL || wtype == LR_TYPE_Q5_0) {  // IQ4_NL's levels also reach -127
        int32x4_t q[2][2];  // [rows 4h..4h+3][rows +0,+1 | +2,+3], two lanes a row
        LR_UNROLL
        for (int c = 0; c < 8; c += 2) {
            const int8x16_t a0 = vreinterpretq_s8_s32(c < 4 ? alo.val[c] : ahi.val[c - 4]);
            const int8x16_t a1 = vreinterpretq_s8_s32(c < 4 ? alo.val[c + 1] : ahi.val[c - 3]);
            LR_UNROLL
            for (int h = 0; h < 2; h++) {
                const int8x16_t w0 = c < 4 ? lo[h][c] : hi[h][c - 4], w1 = c < 4 ? lo[h][c + 1] : hi[h][c - 3];
                const int16x8_t p0 =
                    vmlal_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(a0)), vget_low_s8(w1), vget_low_s8(a1));
                const int16x8_t p1 = vmlal_high_s8(vmull_high_s8(w0, a0), w1, a1);
                q[h][0] = c == 0 ? vpaddlq_s16(p0) : vpadalq_s16(q[h][0], p0);
                q[h][1] = c == 0 ? vpaddlq_s16(p1) : vpadalq_s16(q[h][1], p1);
            }
        }
        LR_UNROLL
        for (int h = 0; h < 2; h++) s[h] = vpaddq_s32(q[h][0], q[h][1]);
        return;
    }
    int16x8_t p[2][2];  // [rows 4h..4h+3][rows +0,+1 | +2,+3]
    LR_UNROLL
    for (int h = 0; h < 2; h++) {
        const int8x16_t a = vreinterpretq_s8_s32(alo.val[0]);
        p[h][0] = vmull_s8(vget_low_s8(lo[h][0]), vget_low_s8(a));
        p[h][1] = vmull_high_s8(lo[h][0], a);
    }
    LR_UNROLL
    for (int c = 1; c < 8; c++) {
        const int8x16_t a = vreinterpretq_s8_s32(c < 4 ? alo.val[c] : ahi.val[c - 4]);
        LR_UNROLL
        for (int h = 0; h < 2; h++) {
            const int8x16_t w = c < 4 ? lo[h][c] : hi[h][c - 4];
            p[h][0] = vmlal_s8(p[h][0], vget_low_s8(w), vget_low_s8(a));
            p[h][1] = vmlal_high_s8(p[h][1], w, a);
        }
    }
    LR_UNROLL
    for (int h = 0; h < 2; h++) {
        if (wtype == LR_TYPE_Q5_1) {  // lanes reach 8 x 31 x 127: two of them overflow int16
            s[h] = vpaddq_s32(vpaddlq_s16(p[h][0]), vpaddlq_s16(p[h][1]));
            continue;
        }
        const int16x8_t pairs = vpaddq_s16(p[h][0], p[h][1]);
        s[h] = wtype == LR_TYPE_Q4_0 ? vpadalq_s16(s[h], pairs) : vpaddlq_s16(pairs);
    }
}

/// The same with SDOT: lane c of the activation vector is the word that chunk c's nibbles (Q8_0:
/// chunk c's and 4 + c's bytes) meet.
LR_INLINE LR_TARGET_DOTPROD void x8_isums_neon_dotprod(int32x4_t s[2], int8x16_t lo[2][4],
                                                       int8x16_t hi[2][4], const int8_t *aq, const int wtype) {
    (void)wtype;
    const int8x16_t alo = vld1q_s8(aq), ahi = vld1q_s8(aq + 16);
    LR_UNROLL
    for (int h = 0; h < 2; h++) {
        s[h] = vdotq_laneq_s32(s[h], lo[h][0], alo, 0);
        s[h] = vdotq_laneq_s32(s[h], lo[h][1], alo, 1);
        s[h] = vdotq_laneq_s32(s[h], lo[h][2], alo, 2);
        s[h] = vdotq_laneq_s32(s[h], lo[h][3], alo, 3);
        s[h] = vdotq_laneq_s32(s[h], hi[h][0], ahi, 0);
        s[h] = vdotq_laneq_s32(s[h], hi[h][1], ahi, 1);
        s[h] = vdotq_laneq_s32(s[h], hi[h][2], ahi, 2);
        s[h] = vdotq_laneq_s32(s[h], hi[h][3], ahi, 3);
    }
}

/// x8_tile_FLAVOUR: rows of group g x tokens [t, t+RN) (x8_act tile q of the chunk), with
/// x8_isums_FLAVOUR.
#define X8_TILE(FLAVOUR, ATTR)                                                                                   \
    LR_INLINE ATTR void x8_tile_##FLAVOUR(const x8_ctx *c, const uint8_t *wg, int g, int t, int q, const int RN,  \
                                          const int wtype) {                                                     \
        const size_t bb = lr_x8_block_bytes(wtype), qo = lr_x8_qs_offset(wtype);                                 \
        const x8_act *act = c->act + (size_t)q * c->nb;                                                          \
        const lr_block_q8_0 *at[X8_LANES];                                                                       \
        float32x4_t acc[X8_LANES][2];                                                                            \
        LR_UNROLL                                                                                                \
        for (int j = 0; j < RN; j++) {                                                                           \
            at[j] = (const lr_block_q8_0 *)(c->a + (size_t)(t + j) * c->a_row_bytes);                            \
            acc[j][0] = acc[j][1] = vdupq_n_f32(0.0f);                                                           \
        }                                                                                                        \
        for (int b = 0; b < c->nb; b++) {                                                                        \
            const uint8_t *blk = wg + (size_t)b * bb;                                                            \
            float32x4_t d[2], m[2];                                                                              \
            x8_halves(blk, d);                                                                                   \
            if (lr_x8_has_mins(wtype)) x8_halves(blk + 16, m);                                                   \
            int8x16_t lo[2][4], hi[2][4];                                                                        \
            if (wtype == LR_TYPE_Q8_0) x8_load_q8_0(blk + qo, lo, hi);                                           \
            else if (wtype == LR_TYPE_IQ4_NL) x8_load_iq4_nl(blk + qo, lo, hi);                                  \
            else if (lr_x8_has_qh(wtype)) x8_load_q5(blk, lo, hi, wtype);                                        \
            else x8_unpack(blk + qo, lo, hi);                                                                    \
            const float32x4_t da = vld1q_f32(act[b].d);                                                          \
            const float32x4_t dsum = lr_x8_has_mins(wtype) ? vld1q_f32(act[b].dsum) : vdupq_n_f32(0.0f);         \
            const int32x4_t off = wtype == LR_TYPE_Q4_0 ? vld1q_s32(act[b].off) : vdupq_n_s32(0);                \
            LR_UNROLL                                                                                            \
            for (int j = 0; j < RN; j++) {                                                                       \
                int32x4_t s[2] = {vdupq_n_s32(off[j]), vdupq_n_s32(off[j])};                                     \
                x8_isums_##FLAVOUR(s, lo, hi, at[j][b].qs, wtype);                                               \
                LR_UNROLL                                                                                        \
                for (int h = 0; h < 2; h++) {                                                                    \
                    acc[j][h] = vfmaq_f32(acc[j][h], vcvtq_f32_s32(s[h]), vmulq_n_f32(d[h], da[j]));             \
                    if (lr_x8_has_mins(wtype)) acc[j][h] = vfmaq_n_f32(acc[j][h], m[h], dsum[j]);                \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
        LR_UNROLL                                                                                                \
        for (int j = 0; j < RN; j++) {                                                                           \
            float *o = c->out + (size_t)(t + j) * c->out_ld + (size_t)g * 8;                                     \
            vst1q_f32(o, acc[j][0]);                                                                             \
            vst1q_f32(o + 4, acc[j][1]);                                                                         \
        }                                                                                                        \
    }

X8_TILE(neon, )
X8_TILE(neon_dotprod, LR_TARGET_DOTPROD)

typedef void (*x8_tile_fn)(const x8_ctx *c, const uint8_t *wg, int g, int t, int q);

// One function per flavour, type and token count, so each gets its own register allocation.
#define X8_SHAPE(FLAVOUR, ATTR, WNAME, WTYPE, RN)                                                          \
    static __attribute__((noinline)) ATTR void x8_##FLAVOUR##_##WNAME##_##RN(const x8_ctx *c,              \
                                                                          const uint8_t *wg, int g, int t, \
                                                                          int q) {                         \
        x8_tile_##FLAVOUR(c, wg, g, t, q, RN, WTYPE);                                                      \
    }

_Static_assert(X8_RN_NEON == 2 && X8_RN_DOTPROD == 3 && X8_RN_NEON_Q8_0 == 1 && X8_RN_DOTPROD_Q8_0 == 3 &&
                   X8_RN_DOTPROD <= X8_LANES,
               "shapes below");
X8_SHAPE(neon, , q4_0, LR_TYPE_Q4_0, 1)
X8_SHAPE(neon, , q4_0, LR_TYPE_Q4_0, 2)
X8_SHAPE(neon, , q4_1, LR_TYPE_Q4_1, 1)
X8_SHAPE(neon, , q4_1, LR_TYPE_Q4_1, 2)
X8_SHAPE(neon, , q5_1, LR_TYPE_Q5_1, 1)
X8_SHAPE(neon, , q5_1, LR_TYPE_Q5_1, 2)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q4_0, LR_TYPE_Q4_0, 1)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q4_0, LR_TYPE_Q4_0, 2)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q4_0, LR_TYPE_Q4_0, 3)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q4_1, LR_TYPE_Q4_1, 1)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q4_1, LR_TYPE_Q4_1, 2)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q4_1, LR_TYPE_Q4_1, 3)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q5_1, LR_TYPE_Q5_1, 1)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q5_1, LR_TYPE_Q5_1, 2)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q5_1, LR_TYPE_Q5_1, 3)
X8_SHAPE(neon, , q8_0, LR_TYPE_Q8_0, 1)
X8_SHAPE(neon, , iq4_nl, LR_TYPE_IQ4_NL, 1)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, iq4_nl, LR_TYPE_IQ4_NL, 1)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, iq4_nl, LR_TYPE_IQ4_NL, 2)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, iq4_nl, LR_TYPE_IQ4_NL, 3)
X8_SHAPE(neon, , q5_0, LR_TYPE_Q5_0, 1)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q5_0, LR_TYPE_Q5_0, 1)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q5_0, LR_TYPE_Q5_0, 2)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q5_0, LR_TYPE_Q5_0, 3)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q8_0, LR_TYPE_Q8_0, 1)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q8_0, LR_TYPE_Q8_0, 2)
X8_SHAPE(neon_dotprod, LR_TARGET_DOTPROD, q8_0, LR_TYPE_Q8_0, 3)

/// Checks as lr_gemm_q8_x8_scalar does, then walks token chunks, groups and token tiles;
/// tiles[n - 1] computes n tokens, rn at most.
static int x8_drive(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                    int n_tok, int k, float *out, size_t out_ld, const x8_tile_fn *tiles, int rn) {
    const size_t bb = lr_x8_block_bytes(wtype);
    if (bb == 0 || k < 0 || k % LR_QK != 0) return -1;
    if (group_begin < 0 || group_end < group_begin || n_tok < 0) return -1;
    if (group_begin == group_end || n_tok == 0 || k == 0) return 0;

    const int nb = k / LR_QK;
    const int chunk = n_tok < X8_TOKEN_CHUNK ? n_tok : X8_TOKEN_CHUNK;
    const size_t n_act = (size_t)(chunk + rn - 1) / rn * nb;
    x8_act stack_act[X8_STACK_ACTS];
    x8_act *act = stack_act, *heap = NULL;
    if (n_act > X8_STACK_ACTS) {
        heap = malloc(n_act * sizeof(x8_act));
        if (!heap) return -1;
        act = heap;
    }
    const x8_ctx c = {.a = a, .a_row_bytes = a_row_bytes, .nb = nb, .act = act, .out = out, .out_ld = out_ld};
    const size_t gb = bb * (size_t)nb;
    for (int t0 = 0; t0 < n_tok; t0 += chunk) {
        const int tn = n_tok - t0 < chunk ? n_tok - t0 : chunk;
        x8_prep((const uint8_t *)a + (size_t)t0 * a_row_bytes, a_row_bytes, tn, rn, nb, wtype, act);
        for (int g = group_begin; g < group_end; g++) {
            const uint8_t *wg = (const uint8_t *)w + (size_t)g * gb;
            for (int tc = 0; tc < tn; tc += rn) tiles[(tn - tc < rn ? tn - tc : rn) - 1](&c, wg, g, t0 + tc, tc / rn);
        }
    }
    free(heap);
    return 0;
}

int lr_gemm_q8_x8_neon(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                       int n_tok, int k, float *out, size_t out_ld) {
    static const x8_tile_fn q4_0[] = {x8_neon_q4_0_1, x8_neon_q4_0_2};
    static const x8_tile_fn q4_1[] = {x8_neon_q4_1_1, x8_neon_q4_1_2};
    static const x8_tile_fn q5_1[] = {x8_neon_q5_1_1, x8_neon_q5_1_2};
    static const x8_tile_fn q8_0[] = {x8_neon_q8_0_1};
    static const x8_tile_fn iq4_nl[] = {x8_neon_iq4_nl_1};
    static const x8_tile_fn q5_0[] = {x8_neon_q5_0_1};
    if (wtype == LR_TYPE_Q8_0 || wtype == LR_TYPE_IQ4_NL || wtype == LR_TYPE_Q5_0)  // signed bytes: Q8_0's tile width
        return x8_drive(wtype, w, group_begin, group_end, a, a_row_bytes, n_tok, k, out, out_ld,
                        wtype == LR_TYPE_Q8_0 ? q8_0 : wtype == LR_TYPE_Q5_0 ? q5_0 : iq4_nl, X8_RN_NEON_Q8_0);
    return x8_drive(wtype, w, group_begin, group_end, a, a_row_bytes, n_tok, k, out, out_ld,
                    wtype == LR_TYPE_Q4_1 ? q4_1 : wtype == LR_TYPE_Q5_1 ? q5_1 : q4_0, X8_RN_NEON);
}

int lr_gemm_q8_x8_neon_dotprod(int wtype, const void *w, int group_begin, int group_end, const void *a,
                               size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld) {
    static const x8_tile_fn q4_0[] = {x8_neon_dotprod_q4_0_1, x8_neon_dotprod_q4_0_2, x8_neon_dotprod_q4_0_3};
    static const x8_tile_fn q4_1[] = {x8_neon_dotprod_q4_1_1, x8_neon_dotprod_q4_1_2, x8_neon_dotprod_q4_1_3};
    static const x8_tile_fn q5_1[] = {x8_neon_dotprod_q5_1_1, x8_neon_dotprod_q5_1_2, x8_neon_dotprod_q5_1_3};
    static const x8_tile_fn q8_0[] = {x8_neon_dotprod_q8_0_1, x8_neon_dotprod_q8_0_2, x8_neon_dotprod_q8_0_3};
    static const x8_tile_fn iq4_nl[] = {x8_neon_dotprod_iq4_nl_1, x8_neon_dotprod_iq4_nl_2, x8_neon_dotprod_iq4_nl_3};
    static const x8_tile_fn q5_0[] = {x8_neon_dotprod_q5_0_1, x8_neon_dotprod_q5_0_2, x8_neon_dotprod_q5_0_3};
    if (wtype == LR_TYPE_Q8_0 || wtype == LR_TYPE_IQ4_NL || wtype == LR_TYPE_Q5_0)
        return x8_drive(wtype, w, group_begin, group_end, a, a_row_bytes, n_tok, k, out, out_ld,
                        wtype == LR_TYPE_Q8_0 ? q8_0 : wtype == LR_TYPE_Q5_0 ? q5_0 : iq4_nl, X8_RN_DOTPROD_Q8_0);
    return x8_drive(wtype, w, group_begin, group_end, a, a_row_bytes, n_tok, k, out, out_ld,
                    wtype == LR_TYPE_Q4_1 ? q4_1 : wtype == LR_TYPE_Q5_1 ? q5_1 : q4_0, X8_RN_DOTPROD);
}

#endif
