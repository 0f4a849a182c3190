// Private to CKernels: offsets inside one x8 block column (8 rows' block b), shared by the
// packer and the SIMD kernels.
#ifndef LR_INTERLEAVE_INTERNAL_H
#define LR_INTERLEAVE_INTERNAL_H

#include "kernels_internal.h"

/// Bytes of 8 rows' block b: d[8] (16), Q4_1's m[8] (16), quants (128).
LR_INLINE size_t lr_x8_block_bytes(int wtype) {
    switch (wtype) {
    case LR_TYPE_Q4_0: return 16 + 128;
    case LR_TYPE_Q4_1: return 32 + 128;
    default: return 0;
    }
}

/// Where the four 32-byte quant chunks start inside a block column.
LR_INLINE size_t lr_x8_qs_offset(int wtype) { return wtype == LR_TYPE_Q4_1 ? 32 : 16; }

#endif
