// Private to CKernels: what each kernel format is, in one place (as ggml's type traits): block
// bytes, where a block's mins, fifth bits and quants sit, what a quant's offset is, and its x8
// layout. The packer, the kernels and dispatch read these instead of switching on types each.
// Adding a kernel format means a row here, its kernels, and its bit in the backends' x8_types.
#ifndef LR_TYPE_TRAITS_H
#define LR_TYPE_TRAITS_H

#include "kernels_internal.h"

typedef struct {
    /// Bytes of one 32-value block of one row in the file layout (0: not a kernel format).
    uint8_t block_bytes;
    /// x = d * q + m (Q4_1, Q5_1); the fifth bits of 5-bit quants in qh (Q5_0, Q5_1).
    uint8_t has_mins, has_qh;
    /// The unsigned quant's offset, x = d * (u - offset), for kernels that multiply unsigned
    /// weights (Q4_0 8, Q5_0 16; Q8_0 and IQ4_NL 128 once their signed bytes get +128; 0 with mins).
    uint8_t offset;
    /// 32-byte quant chunks of 8 rows per x8 block column: a row's qs bytes / 4 (0: no x8 layout).
    uint8_t x8_chunks;
} lr_type_traits;

/// A switch, not a table, so that kernels instantiated per type fold every trait to a constant.
LR_INLINE lr_type_traits lr_traits(int wtype) {
    switch (wtype) {
    case LR_TYPE_Q4_0: return (lr_type_traits){18, 0, 0, 8, 4};
    case LR_TYPE_Q4_1: return (lr_type_traits){20, 1, 0, 0, 4};
    case LR_TYPE_Q5_0: return (lr_type_traits){22, 0, 1, 16, 4};
    case LR_TYPE_Q5_1: return (lr_type_traits){24, 1, 1, 0, 4};
    case LR_TYPE_Q8_0: return (lr_type_traits){34, 0, 0, 128, 8};
    case LR_TYPE_IQ4_NL: return (lr_type_traits){18, 0, 0, 128, 4};  // Q4_0's layout; a nibble names a level
    default: return (lr_type_traits){0, 0, 0, 0, 0};
    }
}

/// The bit of a type in a backend's x8_types mask.
#define LR_TYPE_BIT(t) ((t) >= 0 && (t) < 32 ? 1u << (t) : 0u)

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
LR_INLINE size_t lr_x8_block_bytes(int wtype) {
    return lr_x8_chunks(wtype) == 0 ? 0 : lr_x8_qs_offset(wtype) + 32 * (size_t)lr_x8_chunks(wtype);
}

#endif
