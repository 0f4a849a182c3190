// The x8 layout of Q4 weights and K-quants (see ckernels.h): packing, unpacking, the scalar definitions of its
// mat-muls (dispatch.c holds the entry points).
#include <stdlib.h>

#include "interleave_internal.h"

size_t lr_x8_group_bytes(int wtype, int k) {
    const size_t block = lr_x8_block_bytes(wtype);
    if (block == 0 || k < 0 || k % lr_block_values(wtype) != 0) return 0;
    return block * (size_t)(k / lr_block_values(wtype));
}

/// Moves the bytes of one K-quant super-block of row i between the row layout and an x8 block
/// column (lr_kx8_layout): to_x8 packs, else unpacks.
static void kx8_move(int wtype, uint8_t *row, uint8_t *col, int i, int to_x8) {
    const lr_kx8_layout l = lr_kx8(wtype);
    for (int h = 0; h < 2; h++) {
        if (l.half[h] == 0xff) continue;
        if (to_x8) memcpy(col + 16 * h + 2 * i, row + l.half[h], 2);
        else memcpy(row + l.half[h], col + 16 * h + 2 * i, 2);
    }
    for (int w = 0; w < l.words; w++) {
        uint8_t *x = col + lr_kx8_word(wtype, w) + 4 * i, *r = row + l.word_from + 4 * w;
        if (to_x8) memcpy(x, r, 4);
        else memcpy(r, x, 4);
    }
}

int lr_x8_pack(int wtype, const void *src, size_t src_row_bytes, int k, void *dst) {
    const size_t block = lr_x8_block_bytes(wtype);
    if (block == 0 || k < 0 || k % lr_block_values(wtype) != 0) return -1;
    if (lr_is_kquant(wtype)) {
        const size_t rb = lr_weight_block_bytes(wtype);
        for (int b = 0; b < k / LR_QK_K; b++)
            for (int i = 0; i < 8; i++)
                kx8_move(wtype, (uint8_t *)src + (size_t)i * src_row_bytes + (size_t)b * rb,
                         (uint8_t *)dst + (size_t)b * block, i, 1);
        return 0;
    }
    const size_t row_block = lr_x8_row_block_bytes(wtype), qs_at = lr_x8_row_qs_offset(wtype);
    const int nb = k / LR_QK, chunks = lr_x8_chunks(wtype);
    for (int b = 0; b < nb; b++) {
        uint8_t *out = (uint8_t *)dst + (size_t)b * block;
        uint8_t *qs = out + lr_x8_qs_offset(wtype);
        for (int i = 0; i < 8; i++) {
            const uint8_t *blk = (const uint8_t *)src + (size_t)i * src_row_bytes + (size_t)b * row_block;
            memcpy(out + 2 * i, blk, 2);                                       // d
            if (lr_x8_has_mins(wtype)) memcpy(out + 16 + 2 * i, blk + 2, 2);  // m
            if (lr_x8_has_qh(wtype)) memcpy(out + lr_x8_qh_offset(wtype) + 4 * i, blk + lr_x8_row_qh_offset(wtype), 4);
            for (int c = 0; c < chunks; c++) memcpy(qs + 32 * c + 4 * i, blk + qs_at + 4 * c, 4);
        }
    }
    return 0;
}

int lr_x8_unpack_row(int wtype, const void *group, int i, int k, void *dst) {
    const size_t block = lr_x8_block_bytes(wtype);
    if (block == 0 || k < 0 || k % lr_block_values(wtype) != 0 || i < 0 || i > 7) return -1;
    if (lr_is_kquant(wtype)) {
        const size_t rb = lr_weight_block_bytes(wtype);
        for (int b = 0; b < k / LR_QK_K; b++)
            kx8_move(wtype, (uint8_t *)dst + (size_t)b * rb, (uint8_t *)group + (size_t)b * block, i, 0);
        return 0;
    }
    const size_t row_block = lr_x8_row_block_bytes(wtype), qs_at = lr_x8_row_qs_offset(wtype);
    const int nb = k / LR_QK, chunks = lr_x8_chunks(wtype);
    for (int b = 0; b < nb; b++) {
        const uint8_t *in = (const uint8_t *)group + (size_t)b * block;
        const uint8_t *qs = in + lr_x8_qs_offset(wtype);
        uint8_t *blk = (uint8_t *)dst + (size_t)b * row_block;
        memcpy(blk, in + 2 * i, 2);
        if (lr_x8_has_mins(wtype)) memcpy(blk + 2, in + 16 + 2 * i, 2);
        if (lr_x8_has_qh(wtype)) memcpy(blk + lr_x8_row_qh_offset(wtype), in + lr_x8_qh_offset(wtype) + 4 * i, 4);
        for (int c = 0; c < chunks; c++) memcpy(blk + qs_at + 4 * c, qs + 32 * c + 4 * i, 4);
    }
    return 0;
}

/// Unpacks groups [g0, g1) into rows (file layout) at dst: the scalar definitions run on those.
static void unpack_groups(int wtype, const uint8_t *w, int g0, int g1, int k, uint8_t *dst, size_t row_bytes) {
    const size_t gb = lr_x8_group_bytes(wtype, k);
    for (int g = g0; g < g1; g++) {
        for (int i = 0; i < 8; i++) lr_x8_unpack_row(wtype, w + (size_t)g * gb, i, k, dst + (size_t)((g - g0) * 8 + i) * row_bytes);
    }
}

static int check_args(int wtype, int group_begin, int group_end, int n_tok, int k) {
    if (lr_x8_block_bytes(wtype) == 0 || k < 0 || k % lr_block_values(wtype) != 0) return -1;
    if (group_begin < 0 || group_end < group_begin || n_tok < 0) return -1;
    return 0;
}

/// Runs a row-layout scalar definition on groups [g0, g1), one group at a time (8 rows of scratch).
static int run_unpacked(int wtype, const void *w, int g0, int g1, int k, int f32a, const void *a, size_t a_stride,
                        int n_tok, float *out, size_t out_ld) {
    if (check_args(wtype, g0, g1, n_tok, k) != 0) return -1;
    if (g0 == g1 || n_tok == 0 || k == 0) return 0;
    const size_t row_bytes = lr_x8_group_bytes(wtype, k) / 8;
    uint8_t *rows = malloc(8 * row_bytes);
    if (!rows) return -1;
    int status = 0;
    for (int g = g0; g < g1 && status == 0; g++) {
        unpack_groups(wtype, (const uint8_t *)w, g, g + 1, k, rows, row_bytes);
        status = f32a ? lr_gemm_f32a_scalar(wtype, rows, row_bytes, 0, 8, (const float *)a, a_stride, n_tok, k,
                                            out + (size_t)g * 8, out_ld)
                      : lr_gemm_q8_scalar(wtype, rows, row_bytes, 0, 8, a, a_stride, n_tok, k, out + (size_t)g * 8, out_ld);
    }
    free(rows);
    return status;
}

int lr_gemm_q8_x8_scalar(int wtype, const void *w, int group_begin, int group_end, const void *a,
                         size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld) {
    return run_unpacked(wtype, w, group_begin, group_end, k, 0, a, a_row_bytes, n_tok, out, out_ld);
}

int lr_gemm_f32a_x8_scalar(int wtype, const void *w, int group_begin, int group_end, const float *a, size_t a_ld,
                           int n_tok, int k, float *out, size_t out_ld) {
    return run_unpacked(wtype, w, group_begin, group_end, k, 1, a, a_ld, n_tok, out, out_ld);
}

