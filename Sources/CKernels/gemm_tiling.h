// Loop structure shared by the SIMD mat-muls (private to CKernels).
//
// Output rows are walked in tiles of RM rows and tokens in tiles of RN, so each weight block
// loaded into a register serves RN tokens and each activation block serves RM rows. Tokens
// are taken in chunks small enough that the chunk's activations stay in L2 while every row
// tile streams past them. Block scales are converted to f32 once: activations' per chunk,
// weights' per row tile (then reused by every token tile).
//
// Q4_0 and Q4_1 tiles work on the unsigned nibbles q in 0..15 and fold the offset in after the
// block loop: Q4_0 = sum_b dw*da*sum(q*a) - 8 * sum_b dw * (da*sum(a)), Q4_1 likewise with + m.
// The per-block activation terms da*sum(a) are prepared once per chunk ("sa").
#ifndef LR_GEMM_TILING_H
#define LR_GEMM_TILING_H

#include <stdlib.h>

#include "kernels_internal.h"

/// What a tile kernel reads. Token-indexed arrays are relative to the current chunk and laid out
/// [token][nb]; weight scales belong to the current row tile and are laid out [nb][RM], so one
/// vector load gets a block's scales for all rows of the tile.
typedef struct {
    const uint8_t *w;
    size_t w_row_bytes;
    const uint8_t *a;
    size_t a_row_bytes;
    int nb;           // blocks per row
    const float *da;  // activation block scales
    const float *sa;  // activation scale * sum of the block's int8 values (Q4 types)
    const float *dw;  // weight block scales, [nb][RM]
    const float *mw;  // weight block mins (Q4_1), [nb][RM]
    float *out;
    size_t out_ld;
} lr_tile_ctx;

/// Computes rows [r, r+nr) x tokens [t, t+nt); tc is t's index inside the chunk.
/// nr is either the backend's full RM or 1; nt is 1..RN.
typedef void (*lr_tile_fn)(const lr_tile_ctx *c, int r, int nr, int t, int tc, int nt);

LR_INLINE size_t lr_weight_block_bytes(int wtype) {
    switch (wtype) {
    case LR_TYPE_Q8_0: return sizeof(lr_block_q8_0);
    case LR_TYPE_Q4_0: return sizeof(lr_block_q4_0);
    case LR_TYPE_Q4_1: return sizeof(lr_block_q4_1);
    default: return 0;
    }
}

enum { LR_GEMM_STACK_FLOATS = 6144, LR_GEMM_TOKEN_CHUNK = 32 };

/// Runs a mat-mul with a backend's tile kernel. f16 is the backend's scalar half->float
/// conversion; pass static inline functions so both get inlined into the caller.
LR_INLINE int lr_gemm_drive(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                            const void *a, size_t a_row_bytes, int n_tok, int k, float *out,
                            size_t out_ld, const int RM, const int RN, lr_tile_fn tile,
                            float (*f16)(uint16_t)) {
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
        for (int tt = 0; tt < tn; tt++) {
            const lr_block_q8_0 *ab = (const lr_block_q8_0 *)((const uint8_t *)a + (size_t)(t0 + tt) * a_row_bytes);
            for (int b = 0; b < nb; b++) {
                const float d = f16(ab[b].d);
                da[(size_t)tt * nb + b] = d;
                if (need_sa) {
                    int s = 0;
                    for (int j = 0; j < LR_QK; j++) s += ab[b].qs[j];
                    sa[(size_t)tt * nb + b] = d * (float)s;
                }
            }
        }
        for (int r = row_begin; r < row_end;) {
            const int nr = row_end - r >= RM ? RM : 1;
            for (int i = 0; i < nr; i++) {
                const uint8_t *row = (const uint8_t *)w + (size_t)(r + i) * w_row_bytes;
                for (int b = 0; b < nb; b++) {
                    uint16_t h;
                    memcpy(&h, row + (size_t)b * bb, 2);
                    dw[(size_t)b * RM + i] = f16(h);
                    if (has_min) {
                        memcpy(&h, row + (size_t)b * bb + 2, 2);
                        mw[(size_t)b * RM + i] = f16(h);
                    }
                }
            }
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
