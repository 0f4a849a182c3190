// Private to CKernels: offsets inside one x8 block column (8 rows' block b), shared by the
// packer and the SIMD kernels.
#ifndef LR_INTERLEAVE_INTERNAL_H
#define LR_INTERLEAVE_INTERNAL_H

#include "kernels_internal.h"

/// Bytes of 8 rows' block b: d[8] (16), Q4_1's m[8] (16) or Q5_0's qh[8] (32: row i's fifth
/// bits as the 32-bit lane i), quants (Q4, Q5_0's low nibbles and IQ4_NL: 128, Q8_0: 256).
/// IQ4_NL has Q4_0's layout: only what a nibble means differs.
LR_INLINE size_t lr_x8_block_bytes(int wtype) {
    switch (wtype) {
    case LR_TYPE_Q4_0:
    case LR_TYPE_IQ4_NL: return 16 + 128;
    case LR_TYPE_Q4_1: return 32 + 128;
    case LR_TYPE_Q5_0: return 16 + 32 + 128;
    case LR_TYPE_Q8_0: return 16 + 256;
    default: return 0;
    }
}

/// Where Q5_0's qh lanes start inside a block column.
enum { LR_X8_QH_OFFSET = 16 };

/// Where the 32-byte quant chunks start inside a block column.
LR_INLINE size_t lr_x8_qs_offset(int wtype) { return wtype == LR_TYPE_Q4_1 ? 32 : wtype == LR_TYPE_Q5_0 ? 48 : 16; }

/// 32-byte quant chunks per block column: a row's qs bytes / 4 (Q4: 16 bytes, Q8_0: 32).
LR_INLINE int lr_x8_chunks(int wtype) { return wtype == LR_TYPE_Q8_0 ? 8 : 4; }

/// Bytes of one block of one row in the file layout, and where its qs start (Q4_0's serve IQ4_NL).
LR_INLINE size_t lr_x8_row_block_bytes(int wtype) {
    return wtype == LR_TYPE_Q8_0   ? sizeof(lr_block_q8_0)
           : wtype == LR_TYPE_Q4_1 ? sizeof(lr_block_q4_1)
           : wtype == LR_TYPE_Q5_0 ? sizeof(lr_block_q5_0)
                                   : sizeof(lr_block_q4_0);
}
LR_INLINE size_t lr_x8_row_qs_offset(int wtype) { return wtype == LR_TYPE_Q4_1 ? 4 : wtype == LR_TYPE_Q5_0 ? 6 : 2; }

#endif
