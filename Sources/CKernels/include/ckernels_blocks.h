// Block layouts of the ggml quantization formats, byte-for-byte as stored in GGUF files.
// Scales are IEEE half floats kept as raw uint16_t bits; convert with lr_f16_to_f32.
#ifndef LR_CKERNELS_BLOCKS_H
#define LR_CKERNELS_BLOCKS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// ggml type ids (the values stored in GGUF tensor descriptors).
enum {
    LR_TYPE_F32 = 0,
    LR_TYPE_F16 = 1,
    LR_TYPE_Q4_0 = 2,
    LR_TYPE_Q4_1 = 3,
    LR_TYPE_Q5_0 = 6,
    LR_TYPE_Q5_1 = 7,
    LR_TYPE_Q8_0 = 8,
    LR_TYPE_Q2_K = 10,
    LR_TYPE_Q3_K = 11,
    LR_TYPE_Q4_K = 12,
    LR_TYPE_Q5_K = 13,
    LR_TYPE_Q6_K = 14,
    LR_TYPE_IQ4_NL = 20,
    LR_TYPE_IQ4_XS = 23,
    LR_TYPE_BF16 = 30,
};

/// Values per block of the legacy formats (Q4_0 … Q8_0).
#define LR_QK 32
/// Values per super-block of the K-quants.
#define LR_QK_K 256

/// Q4_0: x = d * (q - 8), q in 0..15. Low nibbles hold values 0..15, high nibbles 16..31.
typedef struct {
    uint16_t d;
    uint8_t qs[LR_QK / 2];
} lr_block_q4_0;

/// Q4_1: x = d * q + m, q in 0..15, nibble order as Q4_0.
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[LR_QK / 2];
} lr_block_q4_1;

/// Q5_0: x = d * (q - 16); q's fifth bits are the 32 bits of qh (little-endian), bit j for value j.
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[LR_QK / 2];
} lr_block_q5_0;

/// Q5_1: x = d * q + m, q as Q5_0 without the offset.
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[LR_QK / 2];
} lr_block_q5_1;

/// Q8_0: x = d * q, q in -127..127 (the house format for int8 math and activations).
typedef struct {
    uint16_t d;
    int8_t qs[LR_QK];
} lr_block_q8_0;

/// Q2_K: 16 sub-blocks of 16; scales[i] = scale (low nibble) | min (high nibble); x = d*sc*q - dmin*m.
typedef struct {
    uint8_t scales[LR_QK_K / 16];
    uint8_t qs[LR_QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} lr_block_q2_K;

/// Q3_K: 16 sub-blocks of 16; 6-bit signed scales packed in 12 bytes; hmask holds the third bit.
typedef struct {
    uint8_t hmask[LR_QK_K / 8];
    uint8_t qs[LR_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} lr_block_q3_K;

/// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes.
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[LR_QK_K / 2];
} lr_block_q4_K;

/// Q5_K: Q4_K plus a fifth bit per value in qh.
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[LR_QK_K / 8];
    uint8_t qs[LR_QK_K / 2];
} lr_block_q5_K;

/// Q6_K: 16 sub-blocks of 16 with int8 scales; low 4 bits in ql, high 2 bits in qh; x = d*sc*(q - 32).
typedef struct {
    uint8_t ql[LR_QK_K / 2];
    uint8_t qh[LR_QK_K / 4];
    int8_t scales[LR_QK_K / 16];
    uint16_t d;
} lr_block_q6_K;

/// The 16 values an IQ4 nibble selects (times the block's scale): denser near zero, where
/// most weights are, than Q4_0's even steps.
extern const int8_t lr_iq4_values[16];

/// IQ4_NL: x = d * lr_iq4_values[q], nibble order as Q4_0.
typedef struct {
    uint16_t d;
    uint8_t qs[LR_QK / 2];
} lr_block_iq4_nl;

/// IQ4_XS: 8 sub-blocks of 32, each with a 6-bit scale (low 4 bits in scales_l, high 2 in
/// scales_h); x = d * (scale - 32) * lr_iq4_values[q], each sub-block's 16 bytes in Q4_0's
/// nibble order.
typedef struct {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[LR_QK_K / 64];
    uint8_t qs[LR_QK_K / 2];
} lr_block_iq4_xs;

_Static_assert(sizeof(lr_block_q4_0) == 18, "Q4_0 block must be 18 bytes");
_Static_assert(sizeof(lr_block_q4_1) == 20, "Q4_1 block must be 20 bytes");
_Static_assert(sizeof(lr_block_q5_0) == 22, "Q5_0 block must be 22 bytes");
_Static_assert(sizeof(lr_block_q5_1) == 24, "Q5_1 block must be 24 bytes");
_Static_assert(sizeof(lr_block_q8_0) == 34, "Q8_0 block must be 34 bytes");
_Static_assert(sizeof(lr_block_q2_K) == 84, "Q2_K block must be 84 bytes");
_Static_assert(sizeof(lr_block_q3_K) == 110, "Q3_K block must be 110 bytes");
_Static_assert(sizeof(lr_block_q4_K) == 144, "Q4_K block must be 144 bytes");
_Static_assert(sizeof(lr_block_q5_K) == 176, "Q5_K block must be 176 bytes");
_Static_assert(sizeof(lr_block_q6_K) == 210, "Q6_K block must be 210 bytes");
_Static_assert(sizeof(lr_block_iq4_nl) == 18, "IQ4_NL block must be 18 bytes");
_Static_assert(sizeof(lr_block_iq4_xs) == 136, "IQ4_XS block must be 136 bytes");

#ifdef __cplusplus
}
#endif

#endif
