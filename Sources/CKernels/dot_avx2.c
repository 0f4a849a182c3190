// AVX2 + FMA + F16C kernels: quantized dot products / mat-muls and f32 attention helpers.
// Compiled with per-function target attributes, so the package builds without -mavx2 and
// these run only when lr_kernels_init found the features.
#include "avx2_int8.h"
#include "gemm_tiling.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2_RM 4  // rows per tile
#define AVX2_RN 2  // tokens per tile (4 x 2 keeps the 8 accumulators, weights and temporaries in 16 registers)

/// The f32 value of the half stored at p (see lr_f16_table for why a table).
LR_INLINE float table_f16(const uint8_t *p) { return lr_f16_table[lr_load_u16(p)]; }

static LR_TARGET_AVX2 void avx2_prep_acts(const uint8_t *a, size_t a_row_bytes, int tn, int nb, float *da, float *sa) {
    for (int t = 0; t < tn; t++) {
        const uint8_t *row = a + (size_t)t * a_row_bytes;
        float *d = da + (size_t)t * nb;
        LR_SCALAR_LOOP
        for (int b = 0; b < nb; b++) d[b] = table_f16(row + (size_t)b * 34);
        if (sa) {
            for (int b = 0; b < nb; b++) sa[(size_t)t * nb + b] = d[b] * (float)sum_i8x32((const int8_t *)row + (size_t)b * 34 + 2);
        }
    }
}

/// Weight scales (and Q4_1 mins) row-major, [nr][nb]: the tiles multiply them eight blocks at a
/// time with the activation scales.
static void avx2_prep_weights(const uint8_t *w, size_t w_row_bytes, int nr, int nb, int wtype, int stride,
                              float *dw, float *mw) {
    (void)stride;
    const size_t bb = lr_weight_block_bytes(wtype);
    for (int i = 0; i < nr; i++) {
        const uint8_t *row = w + (size_t)i * w_row_bytes;
        LR_SCALAR_LOOP
        for (int b = 0; b < nb; b++) {
            dw[(size_t)i * nb + b] = table_f16(row + (size_t)b * bb);
            if (mw) mw[(size_t)i * nb + b] = table_f16(row + (size_t)b * bb + 2);
        }
    }
}

LR_INLINE LR_TARGET_AVX2 float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// sum(x[i] * y[i]) over a row's blocks (the Q4 offset terms).
LR_INLINE LR_TARGET_AVX2 float dot_blocks(const float *x, const float *y, int n) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc);
    float s = hsum_ps(acc);
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

/// 32 unsigned nibbles of a Q4 block: low nibbles in bytes 0..15, high nibbles in 16..31.
LR_INLINE LR_TARGET_AVX2 __m256i unpack_nibbles(const uint8_t *qs) {
    const __m128i v = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Integer part of one block pair as 8 int32 lanes.
//   Q8_0: maddubs needs an unsigned operand, so it takes |a| and moves a's sign onto w.
//   Q4_x: the nibbles are already unsigned.
LR_INLINE LR_TARGET_AVX2 __m256i block_isum(__m256i wq, __m256i aq, __m256i aq_abs, int signed_w) {
    const __m256i p = signed_w ? _mm256_maddubs_epi16(aq_abs, _mm256_sign_epi8(wq, aq))
                               : _mm256_maddubs_epi16(wq, aq);
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

enum { TILE_BLOCKS = 64 };  // blocks whose scale products a tile computes ahead

/// One RM x RN tile of any of the three weight types; RM, RN and wtype are constants at every call.
///
/// The two integer multiplies per block pair (maddubs, madd) share one port on common x86 cores,
/// so every other vector op in the loop costs throughput. The scale products dw * da are therefore
/// computed ahead, eight blocks per multiply, and the loop only broadcasts them from memory.
LR_INLINE LR_TARGET_AVX2 void tile_avx2(const lr_tile_ctx *c, int r, int t, int tc, const int RM,
                                        const int RN, const int wtype) {
    enum { MR = AVX2_RM, MN = AVX2_RN };
    const int nb = c->nb;
    const size_t bb = lr_weight_block_bytes(wtype);
    const int signed_w = wtype == LR_TYPE_Q8_0;
    const uint8_t *wr[MR];
    const lr_block_q8_0 *at[MN];
    __m256 acc[MR][MN];
    float prod[MR][MN][TILE_BLOCKS];
    LR_UNROLL
    for (int i = 0; i < RM; i++) {
        wr[i] = c->w + (size_t)(r + i) * c->w_row_bytes;
        LR_UNROLL
        for (int j = 0; j < RN; j++) acc[i][j] = _mm256_setzero_ps();
    }
    LR_UNROLL
    for (int j = 0; j < RN; j++) at[j] = (const lr_block_q8_0 *)(c->a + (size_t)(t + j) * c->a_row_bytes);

    for (int b0 = 0; b0 < nb; b0 += TILE_BLOCKS) {
        const int bn = nb - b0 < TILE_BLOCKS ? nb - b0 : TILE_BLOCKS;
        LR_UNROLL
        for (int i = 0; i < RM; i++) {
            LR_UNROLL
            for (int j = 0; j < RN; j++) {
                const float *dw = c->dw + (size_t)i * nb + b0;
                const float *da = c->da + (size_t)(tc + j) * nb + b0;
                int b = 0;
                for (; b + 8 <= bn; b += 8)
                    _mm256_storeu_ps(prod[i][j] + b, _mm256_mul_ps(_mm256_loadu_ps(dw + b), _mm256_loadu_ps(da + b)));
                for (; b < bn; b++) prod[i][j][b] = dw[b] * da[b];
            }
        }
        for (int b = 0; b < bn; b++) {
            __m256i wq[MR];
            LR_UNROLL
            for (int i = 0; i < RM; i++) {
                const uint8_t *blk = wr[i] + (size_t)(b0 + b) * bb;
                _mm_prefetch((const char *)blk + AVX2_RM * c->w_row_bytes, _MM_HINT_T0);
                wq[i] = signed_w ? _mm256_loadu_si256((const __m256i *)(blk + 2))
                                 : unpack_nibbles(blk + (wtype == LR_TYPE_Q4_1 ? 4 : 2));
            }
            LR_UNROLL
            for (int j = 0; j < RN; j++) {
                const __m256i aq = _mm256_loadu_si256((const __m256i *)at[j][b0 + b].qs);
                const __m256i aq_abs = signed_w ? _mm256_abs_epi8(aq) : aq;
                LR_UNROLL
                for (int i = 0; i < RM; i++) {
                    const __m256 sum = _mm256_cvtepi32_ps(block_isum(wq[i], aq, aq_abs, signed_w));
                    acc[i][j] = _mm256_fmadd_ps(sum, _mm256_broadcast_ss(&prod[i][j][b]), acc[i][j]);
                }
            }
        }
    }

    LR_UNROLL
    for (int j = 0; j < RN; j++) {
        const float *sa = c->sa + (size_t)(tc + j) * nb;
        LR_UNROLL
        for (int i = 0; i < RM; i++) {
            float s = hsum_ps(acc[i][j]);
            if (wtype == LR_TYPE_Q4_0) s -= 8.0f * dot_blocks(c->dw + (size_t)i * nb, sa, nb);
            if (wtype == LR_TYPE_Q4_1) s += dot_blocks(c->mw + (size_t)i * nb, sa, nb);
            c->out[(size_t)(t + j) * c->out_ld + (size_t)(r + i)] = s;
        }
    }
}

/// Integer part of a mat-vec block pair as 8 float lanes (aq_abs: |a|, used by Q8_0 only; a8:
/// maddubs(8, a), used by Q4_0 only: maddubs(q, a) - maddubs(8, a) are the pairwise sums of
/// (q - 8) * a, exact in int16).
LR_INLINE LR_TARGET_AVX2 __m256 matvec_isum(const uint8_t *blk, __m256i aq, __m256i aq_abs, __m256i a8, const int wtype) {
    __m256i p;
    if (wtype == LR_TYPE_Q8_0) {
        p = _mm256_maddubs_epi16(aq_abs, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(blk + 2)), aq));
    } else {
        p = _mm256_maddubs_epi16(unpack_nibbles(blk + (wtype == LR_TYPE_Q4_1 ? 4 : 2)), aq);
        if (wtype == LR_TYPE_Q4_0) p = _mm256_sub_epi16(p, a8);
    }
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

// A mat-vec (one token) walks the rows one after another, so the weights stream from memory as a
// single sequence. Measured on Zen 2 (llmrun bench tg32, 2 threads, three alternating rounds)
// against four rows side by side, which share each activation block's loads and win on a
// cache-hot 1 MB matrix (Tools/check-kernels --bench) but not on a model streamed from memory:
// Q4_0 Qwen2.5-1.5B 28.4-29.0 -> 32.1-33.2 t/s, Q4_0 SmolLM2 246-252 -> 254-271, Q4_1 SmolLM2
// 177-190 -> 202-211. Q8_0 had measured the same way (1.9 against 3.0 ms on 30 MB). Tried on
// the cache-hot bench and no faster: four accumulators instead of two, and Q4_0's offset
// summed apart per row (dw * sum(a)) instead of a second maddubs per block.
enum { MATVEC_PREFETCH_ROWS = 4 };  // a block's line this many rows ahead is prefetched (8 and 16: no better)

/// One block of a mat-vec row added into acc (the scale product dw * da, and for Q4_1 the min
/// term m * da * sum(a) into lane 0: a vmovss load leaves the other lanes zero).
LR_INLINE LR_TARGET_AVX2 __m256 matvec1_step(__m256 acc, const uint8_t *blk, const lr_block_q8_0 *ab, const float *da,
                                             const float *sa, const int wtype) {
    const __m256i aq = _mm256_loadu_si256((const __m256i *)ab->qs);
    const __m256i aq_abs = wtype == LR_TYPE_Q8_0 ? _mm256_abs_epi8(aq) : aq;
    const __m256i a8 = wtype == LR_TYPE_Q4_0 ? _mm256_maddubs_epi16(_mm256_set1_epi8(8), aq) : aq;
    __m256 dav = _mm256_broadcast_ss(da);
    LR_OPAQUE(dav);
    acc = _mm256_fmadd_ps(matvec_isum(blk, aq, aq_abs, a8, wtype), _mm256_mul_ps(_mm256_set1_ps(table_f16(blk)), dav), acc);
    if (wtype == LR_TYPE_Q4_1)
        acc = _mm256_fmadd_ps(_mm256_set1_ps(table_f16(blk + 2)), _mm256_zextps128_ps256(_mm_load_ss(sa)), acc);
    return acc;
}

/// Mat-vec (one token), one row after another: the weights stream from memory as a single
/// sequence. Two accumulators (even and odd blocks) halve the add chain; each block's line a few
/// rows ahead is prefetched.
LR_INLINE LR_TARGET_AVX2 void matvec1_avx2(const lr_tile_ctx *c, int r0, int nr, int t, int tc, const int wtype) {
    const int nb = c->nb;
    const size_t bb = lr_weight_block_bytes(wtype);
    const size_t ahead = MATVEC_PREFETCH_ROWS * c->w_row_bytes;
    const lr_block_q8_0 *at = (const lr_block_q8_0 *)(c->a + (size_t)t * c->a_row_bytes);
    const float *da = c->da + (size_t)tc * nb;
    const float *sa = wtype == LR_TYPE_Q4_1 ? c->sa + (size_t)tc * nb : da;
    for (int r = r0; r < r0 + nr; r++) {
        const uint8_t *row = c->w + (size_t)r * c->w_row_bytes;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int b = 0;
        for (; b + 2 <= nb; b += 2) {
            const uint8_t *blk = row + (size_t)b * bb;
            _mm_prefetch((const char *)blk + ahead, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + bb + ahead, _MM_HINT_T0);
            acc0 = matvec1_step(acc0, blk, at + b, da + b, sa + b, wtype);
            acc1 = matvec1_step(acc1, blk + bb, at + b + 1, da + b + 1, sa + b + 1, wtype);
        }
        if (b < nb) acc0 = matvec1_step(acc0, row + (size_t)b * bb, at + b, da + b, sa + b, wtype);
        c->out[(size_t)t * c->out_ld + (size_t)r] = hsum_ps(_mm256_add_ps(acc0, acc1));
    }
}

// Each tile shape is its own function: inlined together into one big function, the compilers
// hoist the constants of all shapes and run out of registers for the accumulators.
#define AVX2_TILE(WNAME, WTYPE, RM, RN)                                                              \
    static __attribute__((noinline)) LR_TARGET_AVX2 void tile_##WNAME##_##RM##x##RN(                \
        const lr_tile_ctx *c, int r, int t, int tc) {                                                \
        tile_avx2(c, r, t, tc, RM, RN, WTYPE);                                                       \
    }
#define AVX2_TILES(WNAME, WTYPE)                                                                     \
    AVX2_TILE(WNAME, WTYPE, 4, 1)                                                                    \
    AVX2_TILE(WNAME, WTYPE, 4, 2)                                                                    \
    AVX2_TILE(WNAME, WTYPE, 1, 1)                                                                    \
    AVX2_TILE(WNAME, WTYPE, 1, 2)                                                                    \
    static __attribute__((noinline)) LR_TARGET_AVX2 void matvec_##WNAME(                             \
        const lr_tile_ctx *c, int r, int nr, int t, int tc) {                                        \
        matvec1_avx2(c, r, nr, t, tc, WTYPE);                                                        \
    }                                                                                                \
    static void tiles_##WNAME##_avx2(const lr_tile_ctx *c, int r, int nr, int t, int tc, int nt) { \
        static void (*const shapes[2][2])(const lr_tile_ctx *, int, int, int) = {                  \
            {tile_##WNAME##_1x1, tile_##WNAME##_1x2},                                                \
            {tile_##WNAME##_4x1, tile_##WNAME##_4x2},                                                \
        };                                                                                           \
        if (c->dw == NULL) {                                                                         \
            matvec_##WNAME(c, r, nr, t, tc);                                                         \
            return;                                                                                  \
        }                                                                                            \
        shapes[nr == AVX2_RM][nt - 1](c, r, t, tc);                                                  \
    }

_Static_assert(AVX2_RM == 4 && AVX2_RN == 2, "AVX2_TILES instantiates 4 x 1..2 tiles");
AVX2_TILES(q8_0, LR_TYPE_Q8_0)
AVX2_TILES(q4_0, LR_TYPE_Q4_0)
AVX2_TILES(q4_1, LR_TYPE_Q4_1)

LR_TARGET_AVX2 int lr_gemm_q8_avx2(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                                   const void *a, size_t a_row_bytes, int n_tok, int k, float *out,
                                   size_t out_ld) {
    lr_kernels_init();  // fills lr_f16_table (a no-op after the first call)
    switch (wtype) {
    case LR_TYPE_Q8_0:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             AVX2_RM, AVX2_RN, tiles_q8_0_avx2, avx2_prep_acts,
                             avx2_prep_weights, 1);
    case LR_TYPE_Q4_0:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             AVX2_RM, AVX2_RN, tiles_q4_0_avx2, avx2_prep_acts,
                             avx2_prep_weights, 1);
    case LR_TYPE_Q4_1:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             AVX2_RM, AVX2_RN, tiles_q4_1_avx2, avx2_prep_acts,
                             avx2_prep_weights, 1);
    default:
        return -1;
    }
}

// Single dot products are 1 x 1 mat-muls.
void lr_vec_dot_q8_0_q8_0_avx2(int n, float *s, const void *w, const void *a) {
    lr_gemm_q8_avx2(LR_TYPE_Q8_0, w, 0, 0, 1, a, 0, 1, n, s, 1);
}
void lr_vec_dot_q4_0_q8_0_avx2(int n, float *s, const void *w, const void *a) {
    lr_gemm_q8_avx2(LR_TYPE_Q4_0, w, 0, 0, 1, a, 0, 1, n, s, 1);
}
void lr_vec_dot_q4_1_q8_0_avx2(int n, float *s, const void *w, const void *a) {
    lr_gemm_q8_avx2(LR_TYPE_Q4_1, w, 0, 0, 1, a, 0, 1, n, s, 1);
}

#endif
