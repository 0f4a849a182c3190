// NEON tile kernels, instantiated twice by dot_neon.c: with the widening-multiply block dot
// (plain ARMv8, e.g. Cortex-A72) and with SDOT (ARMv8.2 dotprod). Before including, define
//   NT_SUFFIX  name suffix (neon / neon_dotprod)
//   NT_ATTR    function attribute for the target (empty or LR_TARGET_DOTPROD)
//   NT_IDOT    int32x4_t NT_IDOT(w_lo, w_hi, a_lo, a_hi): lanes summing to the block's integer dot
//
// Vector lanes map to the tile's 4 rows wherever scales are involved: one multiply gives a
// block's scale products for all rows (applied with by-lane FMAs), and the Q4_1 min terms of
// all rows accumulate in one vector. Q4_0 nibbles are centred (q - 8) before the dot.

#define NT_CAT2(a, b) a##_##b
#define NT_CAT(a, b) NT_CAT2(a, b)
#define NT_TILE NT_CAT(tile, NT_SUFFIX)

/// acc + sum * d[lane] for a lane index that is a constant after unrolling.
LR_INLINE float32x4_t NT_CAT(fma_lane, NT_SUFFIX)(float32x4_t acc, float32x4_t sum, float32x4_t d, int lane) {
    switch (lane) {
    case 0: return vfmaq_laneq_f32(acc, sum, d, 0);
    case 1: return vfmaq_laneq_f32(acc, sum, d, 1);
    case 2: return vfmaq_laneq_f32(acc, sum, d, 2);
    default: return vfmaq_laneq_f32(acc, sum, d, 3);
    }
}

/// The halves at offset off of block b in each of the tile's rows, as floats (lane = row).
LR_INLINE float32x4_t NT_CAT(row_halves, NT_SUFFIX)(const uint8_t *const *wr, size_t off, const int RM) {
    if (RM == 1) return vdupq_n_f32(neon_f16_to_f32(lr_load_u16(wr[0] + off)));
    uint16x4_t h = vdup_n_u16(0);
    h = vld1_lane_u16((const uint16_t *)(wr[0] + off), h, 0);
    h = vld1_lane_u16((const uint16_t *)(wr[1] + off), h, 1);
    h = vld1_lane_u16((const uint16_t *)(wr[2] + off), h, 2);
    h = vld1_lane_u16((const uint16_t *)(wr[3] + off), h, 3);
    return vcvt_f32_f16(vreinterpret_f16_u16(h));
}

/// One RM x RN tile (RM = 4 or 1). Without prepared weight scales (mat-vec, c->dw == NULL) the
/// tile gathers them from the blocks itself.
LR_INLINE NT_ATTR void NT_TILE(const lr_tile_ctx *c, int r, int t, int tc, const int RM, const int RN,
                               const int wtype) {
    enum { MR = NEON_RM, MN = NEON_RN };
    const int nb = c->nb;
    const size_t bb = lr_weight_block_bytes(wtype);
    const int prepared = c->dw != NULL;
    const uint8_t *wr[MR];
    const lr_block_q8_0 *at[MN];
    float32x4_t acc[MR][MN], mins[MN];
    LR_UNROLL
    for (int i = 0; i < RM; i++) {
        wr[i] = c->w + (size_t)(r + i) * c->w_row_bytes;
        LR_UNROLL
        for (int j = 0; j < RN; j++) acc[i][j] = vdupq_n_f32(0.0f);
    }
    LR_UNROLL
    for (int j = 0; j < RN; j++) {
        at[j] = (const lr_block_q8_0 *)(c->a + (size_t)(t + j) * c->a_row_bytes);
        mins[j] = vdupq_n_f32(0.0f);
    }

    for (int b = 0; b < nb; b++) {
        int8x16_t wlo[MR], whi[MR];
        LR_UNROLL
        for (int i = 0; i < RM; i++) {
            const uint8_t *blk = wr[i] + (size_t)b * bb;
            __builtin_prefetch(blk + NEON_RM * c->w_row_bytes);  // same block, next row tile
            if (wtype == LR_TYPE_Q8_0) {
                wlo[i] = vld1q_s8((const int8_t *)blk + 2);
                whi[i] = vld1q_s8((const int8_t *)blk + 18);
            } else {
                const uint8x16_t q = vld1q_u8(blk + (wtype == LR_TYPE_Q4_1 ? 4 : 2));
                int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f)));
                int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
                if (wtype == LR_TYPE_Q4_0) {
                    lo = vsubq_s8(lo, vdupq_n_s8(8));
                    hi = vsubq_s8(hi, vdupq_n_s8(8));
                }
                wlo[i] = lo;
                whi[i] = hi;
            }
        }
        const size_t bo = (size_t)b * bb;
        float32x4_t dw;
        if (prepared) dw = RM == 4 ? vld1q_f32(c->dw + (size_t)b * MR) : vdupq_n_f32(c->dw[(size_t)b * MR]);
        else dw = NT_CAT(row_halves, NT_SUFFIX)(wr, bo, RM);
        float32x4_t mw = vdupq_n_f32(0.0f);
        if (wtype == LR_TYPE_Q4_1 && !prepared) mw = NT_CAT(row_halves, NT_SUFFIX)(wr, bo + 2, RM);
        LR_UNROLL
        for (int j = 0; j < RN; j++) {
            const int8x16_t alo = vld1q_s8(at[j][b].qs);
            const int8x16_t ahi = vld1q_s8(at[j][b].qs + 16);
            const float32x4_t d = vmulq_n_f32(dw, c->da[(size_t)(tc + j) * nb + b]);
            LR_UNROLL
            for (int i = 0; i < RM; i++) {
                const float32x4_t sum = vcvtq_f32_s32(NT_IDOT(wlo[i], whi[i], alo, ahi));
                acc[i][j] = NT_CAT(fma_lane, NT_SUFFIX)(acc[i][j], sum, d, i);
            }
            if (wtype == LR_TYPE_Q4_1 && !prepared) mins[j] = vfmaq_n_f32(mins[j], mw, c->sa[(size_t)(tc + j) * nb + b]);
        }
    }

    LR_UNROLL
    for (int j = 0; j < RN; j++) {
        if (wtype == LR_TYPE_Q4_1 && prepared) {
            const float *sa = c->sa + (size_t)(tc + j) * nb;
            for (int b = 0; b < nb; b++) {
                const float32x4_t m = RM == 4 ? vld1q_f32(c->mw + (size_t)b * MR) : vdupq_n_f32(c->mw[(size_t)b * MR]);
                mins[j] = vfmaq_n_f32(mins[j], m, sa[b]);
            }
        }
        float extra[4];
        vst1q_f32(extra, mins[j]);
        LR_UNROLL
        for (int i = 0; i < RM; i++) {
            float s = vaddvq_f32(acc[i][j]);
            if (wtype == LR_TYPE_Q4_1) s += extra[i];
            c->out[(size_t)(t + j) * c->out_ld + (size_t)(r + i)] = s;
        }
    }
}

// One function per tile shape, so each gets its own register allocation.
#define NT_SHAPE_FN(WNAME, RM, RN) NT_CAT(NT_CAT(NT_CAT(tile, WNAME), RM##x##RN), NT_SUFFIX)
#define NT_SHAPE(WNAME, WTYPE, RM, RN)                                                                   \
    static __attribute__((noinline)) NT_ATTR void NT_SHAPE_FN(WNAME, RM, RN)(const lr_tile_ctx *c, int r, \
                                                                             int t, int tc) {            \
        NT_TILE(c, r, t, tc, RM, RN, WTYPE);                                                             \
    }
#define NT_TILES_FN(WNAME) NT_CAT(NT_CAT(tiles, WNAME), NT_SUFFIX)
#define NT_TILES(WNAME, WTYPE)                                                                           \
    NT_SHAPE(WNAME, WTYPE, 4, 1)                                                                         \
    NT_SHAPE(WNAME, WTYPE, 4, 2)                                                                         \
    NT_SHAPE(WNAME, WTYPE, 1, 1)                                                                         \
    NT_SHAPE(WNAME, WTYPE, 1, 2)                                                                         \
    static void NT_TILES_FN(WNAME)(const lr_tile_ctx *c, int r, int nr, int t, int tc, int nt) {       \
        if (nr == NEON_RM) (nt == 1 ? NT_SHAPE_FN(WNAME, 4, 1) : NT_SHAPE_FN(WNAME, 4, 2))(c, r, t, tc); \
        else (nt == 1 ? NT_SHAPE_FN(WNAME, 1, 1) : NT_SHAPE_FN(WNAME, 1, 2))(c, r, t, tc);              \
    }

_Static_assert(NEON_RM == 4 && NEON_RN == 2, "NT_TILES instantiates 4 x 1..2 tiles");
NT_TILES(q8_0, LR_TYPE_Q8_0)
NT_TILES(q4_0, LR_TYPE_Q4_0)
NT_TILES(q4_1, LR_TYPE_Q4_1)

NT_ATTR int NT_CAT(lr_gemm_q8, NT_SUFFIX)(int wtype, const void *w, size_t w_row_bytes, int row_begin,
                                           int row_end, const void *a, size_t a_row_bytes, int n_tok, int k,
                                           float *out, size_t out_ld) {
    switch (wtype) {
    case LR_TYPE_Q8_0:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             NEON_RM, NEON_RN, NT_TILES_FN(q8_0), neon_prep_acts, neon_prep_weights, 1);
    case LR_TYPE_Q4_0:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             NEON_RM, NEON_RN, NT_TILES_FN(q4_0), neon_prep_acts, neon_prep_weights, 1);
    case LR_TYPE_Q4_1:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             NEON_RM, NEON_RN, NT_TILES_FN(q4_1), neon_prep_acts, neon_prep_weights, 1);
    default:
        return -1;
    }
}

// Single dot products are 1 x 1 mat-muls.
void NT_CAT(lr_vec_dot_q8_0_q8_0, NT_SUFFIX)(int n, float *s, const void *w, const void *a) {
    NT_CAT(lr_gemm_q8, NT_SUFFIX)(LR_TYPE_Q8_0, w, 0, 0, 1, a, 0, 1, n, s, 1);
}
void NT_CAT(lr_vec_dot_q4_0_q8_0, NT_SUFFIX)(int n, float *s, const void *w, const void *a) {
    NT_CAT(lr_gemm_q8, NT_SUFFIX)(LR_TYPE_Q4_0, w, 0, 0, 1, a, 0, 1, n, s, 1);
}
void NT_CAT(lr_vec_dot_q4_1_q8_0, NT_SUFFIX)(int n, float *s, const void *w, const void *a) {
    NT_CAT(lr_gemm_q8, NT_SUFFIX)(LR_TYPE_Q4_1, w, 0, 0, 1, a, 0, 1, n, s, 1);
}

#undef NT_TILES
#undef NT_TILES_FN
#undef NT_SHAPE
#undef NT_SHAPE_FN
#undef NT_TILE
#undef NT_CAT
#undef NT_CAT2
