// Private to CKernels: what each kernel format is, in one place (as ggml's type traits): block
// bytes, where a block's mins, fifth bits and quants sit, what a quant's offset is, and its x8
// layout. The packer, the kernels and dispatch read these instead of switching on types each.
// Adding a kernel format means a row here, its kernels, and its bit in the backends' x8_types.
#ifndef LR_TYPE_TRAITS_H
#define LR_TYPE_TRAITS_H

#include "kernels_internal.h"

typedef struct {
    /// Bytes of one block of one row in the file layout (0: not a kernel format): 32 values, or
    /// a K-quant's 256-value super-block.
    uint16_t block_bytes;
    /// Values per block: 32, or 256 for the K-quants (LR_QK_K).
    uint16_t block_values;
    /// x = d * q + m (Q4_1, Q5_1); the fifth bits of 5-bit quants in qh (Q5_0, Q5_1).
    uint8_t has_mins, has_qh;
    /// The unsigned quant's offset, x = d * (u - offset), for kernels that multiply unsigned
    /// weights (Q4_0 8, Q5_0 16; Q8_0 and IQ4_NL 128 once their signed bytes get +128; 0 with mins).
    uint8_t offset;
    /// 32-byte quant chunks of 8 rows per x8 block column: a row's qs bytes / 4 (0: no x8 layout
    /// of the 32-value kind; the K-quants have their own, see lr_kx8_layout).
    uint8_t x8_chunks;
} lr_type_traits;

/// A switch, not a table, so that kernels instantiated per type fold every trait to a constant.
LR_INLINE lr_type_traits lr_traits(int wtype) {
    switch (wtype) {
    case LR_TYPE_Q4_0: return (lr_type_traits){18, 32, 0, 0, 8, 4};
    case LR_TYPE_Q4_1: return (lr_type_traits){20, 32, 1, 0, 0, 4};
    case LR_TYPE_Q5_0: return (lr_type_traits){22, 32, 0, 1, 16, 4};
    case LR_TYPE_Q5_1: return (lr_type_traits){24, 32, 1, 1, 0, 4};
    case LR_TYPE_Q8_0: return (lr_type_traits){34, 32, 0, 0, 128, 8};
    case LR_TYPE_IQ4_NL: return (lr_type_traits){18, 32, 0, 0, 128, 4};  // Q4_0's layout; a nibble names a level
    // K-quants run in the file's own super-blocks (x = d*sc*q - dmin*m; Q6_K d*sc*(q - 32)).
    case LR_TYPE_Q4_K: return (lr_type_traits){144, 256, 1, 0, 0, 0};
    case LR_TYPE_Q5_K: return (lr_type_traits){176, 256, 1, 1, 0, 0};
    case LR_TYPE_Q6_K: return (lr_type_traits){210, 256, 0, 0, 32, 0};
    // Q2_K x = d*sc*q - dmin*m (2-bit q, 4-bit sc and m); Q3_K d*(sc - 32)*(q - 4) (3-bit q, 6-bit sc).
    case LR_TYPE_Q2_K: return (lr_type_traits){84, 256, 1, 0, 0, 0};
    case LR_TYPE_Q3_K: return (lr_type_traits){110, 256, 0, 0, 4, 0};
    default: return (lr_type_traits){0, 0, 0, 0, 0, 0};
    }
}

/// Formats run decoded per tile (decode_tile.c): resident in their file bytes, each group of 8
/// rows decoded to Q8_0 at mat-mul time and run through the Q8_0 kernels. Each 32 values of
/// these are one or two scales times small integer levels: Q8_0 holds them as the load-time
/// copies did, without their 2.4-5x the memory.
LR_INLINE int lr_decoded_per_tile(int wtype) {
    switch (wtype) {
    case 16: case 17: case 22:  // IQ2_XXS, IQ2_XS, IQ2_S
    case 18: case 21:           // IQ3_XXS, IQ3_S
    case 19: case 29:           // IQ1_S, IQ1_M
    case 34: case 35:           // TQ1_0, TQ2_0
    case 41: case 42:           // Q1_0, Q2_0
        return 1;
    default: return 0;
    }
}

/// Values per block of a format decoded per tile: ggml's Q1_0 and Q2_0 have blocks of 128 and
/// 64, the others 256-value super-blocks.
LR_INLINE int lr_decoded_block_values(int wtype) { return wtype == 41 ? 128 : wtype == 42 ? 64 : LR_QK_K; }

/// The bit of a type in a backend's x8_types mask.
#define LR_TYPE_BIT(t) ((t) >= 0 && (t) < 32 ? 1u << (t) : 0u)

/// A K-quant (256-value super-blocks, own kernels and x8 layout).
LR_INLINE int lr_is_kquant(int wtype) { return lr_traits(wtype).block_values == LR_QK_K; }
/// Values per block of a kernel format (0: not one).
LR_INLINE int lr_block_values(int wtype) { return lr_traits(wtype).block_values; }

/// The x8 layout of a K-quant super-block column: the 8 rows' f16 fields (d, and dmin where the
/// type has one) as 8 halves each, then every 4-byte word of the rest of the row, one 32-byte
/// chunk per word with row i's in lane i, in the row's byte order. So a vector lane is a row
/// for scales and quants alike, and the group takes exactly its 8 rows' bytes.
typedef struct {
    /// Row offsets of the f16 fields (d, then dmin; 0xff: none), put at 0 and 16.
    uint8_t half[2];
    /// Row offset and count of the 4-byte words after them (scales, quants, high bits).
    uint8_t word_from, words;
} lr_kx8_layout;

LR_INLINE lr_kx8_layout lr_kx8(int wtype) {
    switch (wtype) {
    case LR_TYPE_Q4_K: return (lr_kx8_layout){{0, 2}, 4, 35};       // scales[12], qs[128]
    case LR_TYPE_Q5_K: return (lr_kx8_layout){{0, 2}, 4, 43};       // scales[12], qh[32], qs[128]
    case LR_TYPE_Q6_K: return (lr_kx8_layout){{208, 0xff}, 0, 52};  // ql[128], qh[64], scales[16]
    case LR_TYPE_Q2_K: return (lr_kx8_layout){{80, 82}, 0, 20};     // scales[16], qs[64]
    case LR_TYPE_Q3_K: return (lr_kx8_layout){{108, 0xff}, 0, 27};  // hmask[32], qs[64], scales[12]
    default: return (lr_kx8_layout){{0xff, 0xff}, 0, 0};
    }
}
/// Where the words start in a K-quant x8 block column, and where row word w sits.
LR_INLINE size_t lr_kx8_words_offset(int wtype) { return lr_kx8(wtype).half[1] == 0xff ? 16 : 32; }
/// The chunk position of row word w in the column: the row's order, except for Q6_K, Q2_K and
/// Q3_K, whose chunks are put in the order their kernels first read them (scales, then per half
/// of the super-block: its high bits, then its low bits), so a mat-vec reads each column front
/// to back. Q6_K in the row's order (ql, qh, scales, read as 0-255, 1024-1279, 1536, 256-511, ...)
/// streamed 6-7 GB/s from memory on one Zen 4 core against 35 GB/s from L3 (docs/measurements.md).
/// Within each run of 8 quant words (32 values: two 16-value sub-blocks) words j and j + 4 (the
/// same place in the two sub-blocks) are neighbours, so a 64-byte load gives kx8_avx512.c a
/// row's two sub-blocks in one lane pair.
LR_INLINE int lr_kx8_pair(int j) { return j < 4 ? 2 * j : 2 * (j - 4) + 1; }
LR_INLINE int lr_kx8_position(int wtype, int w) {
    switch (wtype) {
    case LR_TYPE_Q6_K:
        if (w >= 48) return w - 48;  // scales[16]
        if (w >= 32) return 4 + 24 * ((w - 32) / 8) + lr_kx8_pair(w % 8);   // qh[64], half (w - 32) / 8
        return 12 + 24 * (w / 16) + 8 * (w / 8 % 2) + lr_kx8_pair(w % 8);  // ql[128], half w / 16
    case LR_TYPE_Q2_K:
        if (w < 4) return w;                                      // scales[16]
        return 4 + 8 * ((w - 4) / 8) + lr_kx8_pair((w - 4) % 8);  // qs[64], half (w - 4) / 8
    case LR_TYPE_Q3_K:
        if (w >= 24) return w - 24;                                 // scales[12]
        if (w < 8) return 3 + lr_kx8_pair(w);                       // hmask[32], both halves
        return 11 + 8 * ((w - 8) / 8) + lr_kx8_pair((w - 8) % 8);  // qs[64], half (w - 8) / 8
    default: return w;
    }
}
/// Whether a K-quant's 32-value activation blocks meet two 16-value sub-blocks (Q6_K, Q2_K,
/// Q3_K): their AVX-512 kernels read activation words in the lane-pair order (0, 4, 1, 5, ...).
LR_INLINE int lr_kx8_lane_pairs(int wtype) {
    return wtype == LR_TYPE_Q6_K || wtype == LR_TYPE_Q2_K || wtype == LR_TYPE_Q3_K;
}
LR_INLINE size_t lr_kx8_word(int wtype, int w) {
    return lr_kx8_words_offset(wtype) + 32 * (size_t)lr_kx8_position(wtype, w);
}

// Row layout: d (2 bytes), the min m (2), qh (4), qs.
LR_INLINE size_t lr_weight_block_bytes(int wtype) { return lr_traits(wtype).block_bytes; }
LR_INLINE size_t lr_x8_row_block_bytes(int wtype) { return lr_traits(wtype).block_bytes; }
LR_INLINE int lr_x8_has_mins(int wtype) { return lr_traits(wtype).has_mins; }
LR_INLINE int lr_x8_has_qh(int wtype) { return lr_traits(wtype).has_qh; }
LR_INLINE size_t lr_x8_row_qh_offset(int wtype) { return lr_x8_has_mins(wtype) ? 4 : 2; }
LR_INLINE size_t lr_x8_row_qs_offset(int wtype) { return lr_x8_row_qh_offset(wtype) + (lr_x8_has_qh(wtype) ? 4 : 0); }

// x8 block column (8 rows' block b): d[8] (16 bytes), m[8] (16), qh[8] (32: row i's as the 32-bit
// lane i), then the quant chunks (32 bytes each).
LR_INLINE size_t lr_x8_qh_offset(int wtype) { return lr_x8_has_mins(wtype) ? 32 : 16; }
LR_INLINE size_t lr_x8_qs_offset(int wtype) { return lr_x8_qh_offset(wtype) + (lr_x8_has_qh(wtype) ? 32 : 0); }
LR_INLINE int lr_x8_chunks(int wtype) { return lr_traits(wtype).x8_chunks; }
/// Bytes of one x8 block column: 8 rows' block (32 values; a K-quant's super-block).
LR_INLINE size_t lr_x8_block_bytes(int wtype) {
    if (lr_is_kquant(wtype)) return 8 * (size_t)lr_traits(wtype).block_bytes;
    return lr_x8_chunks(wtype) == 0 ? 0 : lr_x8_qs_offset(wtype) + 32 * (size_t)lr_x8_chunks(wtype);
}

#endif
