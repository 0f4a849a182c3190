// Loop structure shared by the SIMD mat-muls (private to CKernels).
//
// Output rows are walked in tiles of RM rows and tokens in tiles of RN, so each weight block
// loaded into a register serves RN tokens and each activation block serves RM rows. Tokens
// are taken in chunks small enough that the chunk's activations stay in cache while every row
// tile streams past them. Block scales are converted to f32 once: activations' per chunk,
// weights' per row tile (then reused by every token tile) -- except in mat-vecs, where a backend
// may read the weight scales inside its kernel instead (see matvec_reads_scales).
//
// Q4 offsets (the -8 of Q4_0, the min m of Q4_1) need the activation terms da * sum(a) per block,
// prepared once per chunk ("sa"); how a backend folds them in is its own business.
#ifndef LR_GEMM_TILING_H
#define LR_GEMM_TILING_H

#include <stdlib.h>

#include "type_traits.h"

/// What a tile kernel reads. Token-indexed arrays are relative to the current chunk and laid out
/// [token][nb]; weight scales belong to the current row tile, in the layout the backend's
/// prep_weights writes (RM * nb floats each).
typedef struct {
    const uint8_t *w;
    size_t w_row_bytes;
    const uint8_t *a;
    size_t a_row_bytes;
    int nb;           // blocks per row
    const float *da;  // activation block scales
    const float *sa;  // activation scale * sum of the block's int8 values (Q4 types)
    const float *dw;  // weight block scales, or NULL when the tile reads them itself
    const float *mw;  // weight block mins (Q4_1)
    float *out;
    size_t out_ld;
} lr_tile_ctx;

/// Computes rows [r, r+nr) x tokens [t, t+nt); tc is t's index inside the chunk.
/// nr is either the backend's full RM or 1; nt is 1..RN.
typedef void (*lr_tile_fn)(const lr_tile_ctx *c, int r, int nr, int t, int tc, int nt);

enum { LR_GEMM_STACK_FLOATS = 6144, LR_GEMM_TOKEN_CHUNK = 32 };

/// Fills da[t][b] with the scales of activation rows [0, tn) (a points at the first) and, when sa
/// is not NULL, sa[t][b] = da[t][b] * (sum of the block's int8 values).
typedef void (*lr_prep_acts_fn)(const uint8_t *a, size_t a_row_bytes, int tn, int nb, float *da, float *sa);
/// Fills dw (and mw for Q4_1) with the scales of weight rows [0, nr) (w points at the first), in the
/// backend's layout; stride is the tile's row count RM (room for RM * nb floats each).
typedef void (*lr_prep_weights_fn)(const uint8_t *w, size_t w_row_bytes, int nr, int nb, int wtype, int stride,
                                   float *dw, float *mw);

LR_INLINE uint16_t lr_load_u16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

/// Plain-C preparation, for backends whose scalar half conversion is cheap.
LR_INLINE void lr_prep_acts_generic(const uint8_t *a, size_t a_row_bytes, int tn, int nb, float *da, float *sa,
                                    float (*f16)(uint16_t)) {
    for (int t = 0; t < tn; t++) {
        const lr_block_q8_0 *ab = (const lr_block_q8_0 *)(a + (size_t)t * a_row_bytes);
        LR_SCALAR_LOOP
        for (int b = 0; b < nb; b++) {
            const float d = f16(ab[b].d);
            da[(size_t)t * nb + b] = d;
            if (sa) {
                int s = 0;
                for (int j = 0; j < LR_QK; j++) s += ab[b].qs[j];
                sa[(size_t)t * nb + b] = d * (float)s;
            }
        }
    }
}

/// Layout [nb][stride]: one vector load gets a block's scales for all rows of the tile.
LR_INLINE void lr_prep_weights_generic(const uint8_t *w, size_t w_row_bytes, int nr, int nb, int wtype, int stride,
                                       float *dw, float *mw, float (*f16)(uint16_t)) {
    const size_t bb = lr_weight_block_bytes(wtype);
    for (int i = 0; i < nr; i++) {
        const uint8_t *row = w + (size_t)i * w_row_bytes;
        LR_SCALAR_LOOP
        for (int b = 0; b < nb; b++) {
            dw[(size_t)b * stride + i] = f16(lr_load_u16(row + (size_t)b * bb));
            if (mw) mw[(size_t)b * stride + i] = f16(lr_load_u16(row + (size_t)b * bb + 2));
        }
    }
}

/// Runs a mat-mul with a backend's tile kernel and scale preparation. Pass static functions so
/// they can be inlined into the caller. With matvec_reads_scales set, single-token chunks (mat-vec)
/// get no prepared weight scales (ctx dw and mw NULL) and the tile reads them itself: with no
/// other token to share them, converting into an array first only adds a store and a load per block.
LR_INLINE int lr_gemm_drive(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                            const void *a, size_t a_row_bytes, int n_tok, int k, float *out,
                            size_t out_ld, const int RM, const int RN, lr_tile_fn tile,
                            lr_prep_acts_fn prep_acts, lr_prep_weights_fn prep_weights,
                            const int matvec_reads_scales) {
    const size_t bb = lr_weight_block_bytes(wtype);
    if (bb == 0 || k < 0 || k % LR_QK != 0 || row_begin < 0 || row_end < row_begin || n_tok < 0) return -1;
    if (row_begin == row_end || n_tok == 0) return 0;

    const int nb = k / LR_QK;
    const int need_sa = wtype != LR_TYPE_Q8_0;
    const int has_min = wtype == LR_TYPE_Q4_1;
    const size_t per_tok = (size_t)nb * (need_sa ? 2 : 1);
    const size_t per_tile = (size_t)RM * nb * (has_min ? 2 : 1);

    int chunk = n_tok < LR_GEMM_TOKEN_CHUNK ? n_tok : LR_GEMM_TOKEN_CHUNK;
    while (chunk > RN && chunk * per_tok + per_tile > LR_GEMM_STACK_FLOATS) chunk -= RN;
    const size_t need = chunk * per_tok + per_tile;
    float stack_buf[LR_GEMM_STACK_FLOATS];
    float *heap = NULL, *buf = stack_buf;
    if (need > LR_GEMM_STACK_FLOATS) {
        heap = malloc(need * sizeof(float));
        if (!heap) return -1;
        buf = heap;
    }
    float *da = buf;
    float *sa = need_sa ? da + (size_t)chunk * nb : NULL;
    float *dw = buf + chunk * per_tok;
    float *mw = has_min ? dw + (size_t)RM * nb : NULL;

    lr_tile_ctx c = {
        .w = w, .w_row_bytes = w_row_bytes, .a = a, .a_row_bytes = a_row_bytes, .nb = nb,
        .da = da, .sa = sa, .dw = dw, .mw = mw, .out = out, .out_ld = out_ld,
    };

    for (int t0 = 0; t0 < n_tok; t0 += chunk) {
        const int tn = n_tok - t0 < chunk ? n_tok - t0 : chunk;
        prep_acts((const uint8_t *)a + (size_t)t0 * a_row_bytes, a_row_bytes, tn, nb, da, sa);
        const int prep = !(matvec_reads_scales && tn == 1);
        c.dw = prep ? dw : NULL;
        c.mw = prep ? mw : NULL;
        for (int r = row_begin; r < row_end;) {
            const int nr = row_end - r >= RM ? RM : 1;
            if (prep) prep_weights((const uint8_t *)w + (size_t)r * w_row_bytes, w_row_bytes, nr, nb, wtype, RM, dw, mw);
            for (int tc = 0; tc < tn;) {
                const int nt = tn - tc < RN ? tn - tc : RN;
                tile(&c, r, nr, t0 + tc, tc, nt);
                tc += nt;
            }
            r += nr;
        }
    }
    free(heap);
    return 0;
}

#endif
