// Private to CKernels: offsets inside one x8 block column (8 rows' block b), shared by the
// packer and the SIMD kernels.
#ifndef LR_INTERLEAVE_INTERNAL_H
#define LR_INTERLEAVE_INTERNAL_H

#include "kernels_internal.h"

/// Whether a kernel format stores mins (Q4_1, Q5_1: x = d * q + m) and fifth bits (Q5_0, Q5_1).
LR_INLINE int lr_x8_has_mins(int wtype) { return wtype == LR_TYPE_Q4_1 || wtype == LR_TYPE_Q5_1; }
LR_INLINE int lr_x8_has_qh(int wtype) { return wtype == LR_TYPE_Q5_0 || wtype == LR_TYPE_Q5_1; }

/// Bytes of 8 rows' block b: d[8] (16), the mins m[8] (16), the fifth bits qh[8] (32: row i's
/// as the 32-bit lane i), quants (Q4, Q5's low nibbles and IQ4_NL: 128, Q8_0: 256). IQ4_NL has
/// Q4_0's layout: only what a nibble means differs.
LR_INLINE size_t lr_x8_block_bytes(int wtype) {
    switch (wtype) {
    case LR_TYPE_Q4_0:
    case LR_TYPE_IQ4_NL: return 16 + 128;
    case LR_TYPE_Q4_1: return 32 + 128;
    case LR_TYPE_Q5_0: return 16 + 32 + 128;
    case LR_TYPE_Q5_1: return 32 + 32 + 128;
    case LR_TYPE_Q8_0: return 16 + 256;
    default: return 0;
    }
}

/// Where the qh lanes (Q5) and the 32-byte quant chunks start inside a block column.
LR_INLINE size_t lr_x8_qh_offset(int wtype) { return lr_x8_has_mins(wtype) ? 32 : 16; }
LR_INLINE size_t lr_x8_qs_offset(int wtype) { return lr_x8_qh_offset(wtype) + (lr_x8_has_qh(wtype) ? 32 : 0); }

/// 32-byte quant chunks per block column: a row's qs bytes / 4 (Q4: 16 bytes, Q8_0: 32).
LR_INLINE int lr_x8_chunks(int wtype) { return wtype == LR_TYPE_Q8_0 ? 8 : 4; }

/// Bytes of one block of one row in the file layout, and where its qh and qs start (Q4_0's
/// serve IQ4_NL).
LR_INLINE size_t lr_x8_row_block_bytes(int wtype) {
    switch (wtype) {
    case LR_TYPE_Q8_0: return sizeof(lr_block_q8_0);
    case LR_TYPE_Q4_1: return sizeof(lr_block_q4_1);
    case LR_TYPE_Q5_0: return sizeof(lr_block_q5_0);
    case LR_TYPE_Q5_1: return sizeof(lr_block_q5_1);
    default: return sizeof(lr_block_q4_0);
    }
}
LR_INLINE size_t lr_x8_row_qh_offset(int wtype) { return lr_x8_has_mins(wtype) ? 4 : 2; }
LR_INLINE size_t lr_x8_row_qs_offset(int wtype) { return lr_x8_row_qh_offset(wtype) + (lr_x8_has_qh(wtype) ? 4 : 0); }

#endif
