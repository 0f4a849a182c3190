// NEON tile kernels, instantiated twice by dot_neon.c: with the widening-multiply block dot
// (plain ARMv8, e.g. Cortex-A72) and with SDOT (ARMv8.2 dotprod). Before including, define
//   NT_SUFFIX  name suffix (neon / neon_dotprod)
//   NT_ATTR    function attribute for the target (empty or LR_TARGET_DOTPROD)
//   NT_IDOT    int32x4_t NT_IDOT(w_lo, w_hi, a_lo, a_hi): lanes summing to the block's integer dot
// Q4_0 nibbles are centred (q - 8) before the dot; Q4_1 keeps them unsigned and adds
// sum_b m * da*sum(a) afterwards.

#define NT_CAT2(a, b) a##_##b
#define NT_CAT(a, b) NT_CAT2(a, b)
#define NT_TILE NT_CAT(tile, NT_SUFFIX)

LR_INLINE NT_ATTR void NT_TILE(const lr_tile_ctx *c, int r, int t, int tc, const int RM, const int RN,
                               const int wtype) {
    enum { MR = NEON_RM, MN = NEON_RN };
    const int nb = c->nb;
    const int U = RM * RN <= 2 ? 2 : 1;
    const size_t bb = lr_weight_block_bytes(wtype);
    const uint8_t *wr[MR];
    const lr_block_q8_0 *at[MN];
    float32x4_t acc[2][MR][MN];
    for (int i = 0; i < RM; i++) wr[i] = c->w + (size_t)(r + i) * c->w_row_bytes;
    for (int j = 0; j < RN; j++) at[j] = (const lr_block_q8_0 *)(c->a + (size_t)(t + j) * c->a_row_bytes);
    for (int u = 0; u < U; u++)
        for (int i = 0; i < RM; i++)
            for (int j = 0; j < RN; j++) acc[u][i][j] = vdupq_n_f32(0.0f);

    for (int b = 0; b < nb; b += U) {
        for (int u = 0; u < U && b + u < nb; u++) {
            const int bu = b + u;
            int8x16_t wlo[MR], whi[MR];
            for (int i = 0; i < RM; i++) {
                const uint8_t *blk = wr[i] + (size_t)bu * bb;
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
            // One block's weight scales for the tile's rows (layout [nb][MR]).
            const float32x4_t dw = RM == 4 ? vld1q_f32(c->dw + (size_t)bu * MR) : vdupq_n_f32(c->dw[(size_t)bu * MR]);
            for (int j = 0; j < RN; j++) {
                const int8x16_t alo = vld1q_s8(at[j][bu].qs);
                const int8x16_t ahi = vld1q_s8(at[j][bu].qs + 16);
                const float32x4_t d = vmulq_n_f32(dw, c->da[(size_t)(tc + j) * nb + bu]);
                for (int i = 0; i < RM; i++) {
                    const float32x4_t sum = vcvtq_f32_s32(NT_IDOT(wlo[i], whi[i], alo, ahi));
                    switch (i) {  // the lane index must be a constant
                    case 0: acc[u][i][j] = vfmaq_laneq_f32(acc[u][i][j], sum, d, 0); break;
                    case 1: acc[u][i][j] = vfmaq_laneq_f32(acc[u][i][j], sum, d, 1); break;
                    case 2: acc[u][i][j] = vfmaq_laneq_f32(acc[u][i][j], sum, d, 2); break;
                    default: acc[u][i][j] = vfmaq_laneq_f32(acc[u][i][j], sum, d, 3); break;
                    }
                }
            }
        }
    }

    for (int j = 0; j < RN; j++) {
        float32x4_t corr = vdupq_n_f32(0.0f);
        if (wtype == LR_TYPE_Q4_1) {
            const float *sa = c->sa + (size_t)(tc + j) * nb;
            for (int b = 0; b < nb; b++) {
                const float32x4_t m = RM == 4 ? vld1q_f32(c->mw + (size_t)b * MR) : vdupq_n_f32(c->mw[(size_t)b * MR]);
                corr = vfmaq_n_f32(corr, m, sa[b]);
            }
        }
        for (int i = 0; i < RM; i++) {
            float32x4_t v = acc[0][i][j];
            if (U == 2) v = vaddq_f32(v, acc[1][i][j]);
            float s = vaddvq_f32(v);
            if (wtype == LR_TYPE_Q4_1) {
                switch (i) {
                case 0: s += vgetq_lane_f32(corr, 0); break;
                case 1: s += vgetq_lane_f32(corr, 1); break;
                case 2: s += vgetq_lane_f32(corr, 2); break;
                default: s += vgetq_lane_f32(corr, 3); break;
                }
            }
            c->out[(size_t)(t + j) * c->out_ld + (size_t)(r + i)] = s;
        }
    }
}

#define NT_TILES_FN(WNAME) NT_CAT(NT_CAT(tiles, WNAME), NT_SUFFIX)
#define NT_TILES(WNAME, WTYPE)                                                                    \
    static NT_ATTR void NT_TILES_FN(WNAME)(const lr_tile_ctx *c, int r, int nr, int t, int tc, int nt) { \
        if (nr == NEON_RM) {                                                                      \
            if (nt == 1) NT_TILE(c, r, t, tc, NEON_RM, 1, WTYPE);                                 \
            else NT_TILE(c, r, t, tc, NEON_RM, 2, WTYPE);                                         \
        } else {                                                                                  \
            if (nt == 1) NT_TILE(c, r, t, tc, 1, 1, WTYPE);                                       \
            else NT_TILE(c, r, t, tc, 1, 2, WTYPE);                                               \
        }                                                                                         \
    }

NT_TILES(q8_0, LR_TYPE_Q8_0)
NT_TILES(q4_0, LR_TYPE_Q4_0)
NT_TILES(q4_1, LR_TYPE_Q4_1)

NT_ATTR int NT_CAT(lr_gemm_q8, NT_SUFFIX)(int wtype, const void *w, size_t w_row_bytes, int row_begin,
                                           int row_end, const void *a, size_t a_row_bytes, int n_tok, int k,
                                           float *out, size_t out_ld) {
    switch (wtype) {
    case LR_TYPE_Q8_0:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             NEON_RM, NEON_RN, NT_TILES_FN(q8_0), neon_prep_acts, neon_prep_weights, 0);
    case LR_TYPE_Q4_0:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             NEON_RM, NEON_RN, NT_TILES_FN(q4_0), neon_prep_acts, neon_prep_weights, 0);
    case LR_TYPE_Q4_1:
        return lr_gemm_drive(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld,
                             NEON_RM, NEON_RN, NT_TILES_FN(q4_1), neon_prep_acts, neon_prep_weights, 0);
    default:
        return -1;
    }
}

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
#undef NT_TILE
#undef NT_CAT
#undef NT_CAT2
