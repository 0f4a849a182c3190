// Private to CKernels: the dispatch table each backend fills, and shared inline helpers.
#ifndef LR_KERNELS_INTERNAL_H
#define LR_KERNELS_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "include/ckernels.h"

#if defined(__x86_64__)
#define LR_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
/// AVX-512 with VNNI (Ice Lake, Zen 4 and later); its callers must have checked lr_cpu_has_avx512vnni.
#define LR_TARGET_AVX512VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#endif
#if defined(__aarch64__)
#define LR_TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

#define LR_INLINE static inline __attribute__((always_inline))
/// Hides a value from the optimizer. Used on a broadcast vector so the compiler keeps
/// "broadcast-load x, multiply by v" instead of rewriting it as a scalar multiply plus a
/// register broadcast (one more vector-port instruction in the innermost loop).
#define LR_OPAQUE(v) __asm__("" : "+x"(v))

/// Fully unrolls the small constant-trip loops of the tile kernels (so accumulators stay in registers).
#define LR_UNROLL _Pragma("GCC unroll 8")
/// Keeps a loop of scalar scale conversions scalar: vectorized, the strided loads and stores turn
/// into chains of inserts and extracts on the vector ports the dot products need.
#if defined(__clang__)
#define LR_SCALAR_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define LR_SCALAR_LOOP
#endif

typedef void (*lr_vec_dot_fn)(int n, float *s, const void *w, const void *a);

/// One backend's implementation of every dispatched entry point.
typedef struct {
    const char *name;
    lr_vec_dot_fn vec_dot_q8_0;
    lr_vec_dot_fn vec_dot_q4_0;
    lr_vec_dot_fn vec_dot_q4_1;
    int (*gemm)(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                const void *a, size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
    /// f32-activation mat-mul (NULL when the int8 path is faster at every batch size) and the
    /// batch size from which it wins.
    int (*gemm_f32a)(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                     const float *a, size_t a_ld, int n_tok, int k, float *out, size_t out_ld);
    int gemm_f32a_min_batch;
    /// Mat-muls on x8 weights (NULL: the scalar x8 kernels run), with f32 activations as
    /// gemm_f32a (NULL where gemm_f32a is).
    int (*gemm_x8)(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                   int n_tok, int k, float *out, size_t out_ld);
    int (*gemm_f32a_x8)(int wtype, const void *w, int group_begin, int group_end, const float *a, size_t a_ld,
                        int n_tok, int k, float *out, size_t out_ld);
    /// The same for the K-quants' x8 layout (Q4_K, Q5_K, Q6_K; NULL: the scalar x8 kernels run).
    int (*gemm_kx8)(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                    int n_tok, int k, float *out, size_t out_ld);
    /// The types gemm_x8 takes, which the backend prefers in x8 (LR_TYPE_BIT of each). Types
    /// without row-layout SIMD kernels (IQ4_NL, Q5) run their rows past a matrix's last group of
    /// 8 in the scalar loops.
    uint32_t x8_types;
    /// gemm_x8 beats gemm_f32a_x8 at every batch size, for every x8 type (VNNI int8 dot products).
    int x8_int8_all_batches;
    /// The pruner's cross-product tile for whole 16-column groups (NULL: the portable loops do
    /// all); returns the first column it left to them.
    int (*cross_tile_f32)(const float *x, size_t ldx, const float *y, size_t ldy, int rows, int i0, int i1,
                          int j0, int j1, double *out, size_t ldo);
    void (*quantize_q8_0)(const float *src, void *dst, int64_t n);
    void (*f16_to_f32_row)(const uint16_t *src, float *dst, int64_t n);
    void (*f32_to_f16_row)(const float *src, uint16_t *dst, int64_t n);
    void (*bf16_to_f32_row)(const uint16_t *src, float *dst, int64_t n);
    void (*f32_to_bf16_row)(const float *src, uint16_t *dst, int64_t n);
    void (*attend_f16)(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int d, float scale,
                       float *scores, float *out);
    void (*swiglu)(float *gate, const float *up, int64_t n);
    void (*geglu)(float *gate, const float *up, int64_t n);
} lr_kernel_table;

/// The cross-product tile's portable loops (linalg.c), for the columns a backend's tile leaves.
void lr_cross_tile_f32_portable(const float *x, size_t ldx, const float *y, size_t ldy, int rows, int i0, int i1,
                                int j0, int j1, double *out, size_t ldo);

/// A row of a grid-coded IQ format (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) as Q8_0:
/// a 32-value block with one scale and whole levels (in eighths for IQ1) holds them exactly, to
/// the f16 rounding of that scale; a block with two scales is rounded as a Q8_0 copy. Returns 0, or
/// -1 for another type.
int lr_decode_row_iq_grid_q8_0(int type, const void *src, void *dst, int64_t n);
/// TQ1_0 / TQ2_0 rows to Q8_0, exactly (levels -1..1 under the block's f16 scale); -1 for another type.
int lr_decode_row_ternary_q8_0(int type, const void *src, void *dst, int64_t n);
/// Q1_0 / Q2_0 rows to Q8_0, exactly (their levels under their own scale); -1 for another type.
int lr_decode_row_q1_q2_q8_0(int type, const void *src, void *dst, int64_t n);

/// The mat-mul of a matrix decoded per tile (decode_tile.c): a is Q8_0 rows a_stride bytes apart,
/// or with f32a set f32 rows a_stride floats apart.
int lr_gemm_decoded(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end, const void *a,
                    size_t a_stride, int f32a, int n_tok, int k, float *out, size_t out_ld);

// Scalar implementations every backend may fall back to.
void lr_f16_to_f32_row_scalar(const uint16_t *src, float *dst, int64_t n);
void lr_f32_to_f16_row_scalar(const float *src, uint16_t *dst, int64_t n);
void lr_bf16_to_f32_row_scalar(const uint16_t *src, float *dst, int64_t n);
void lr_f32_to_bf16_row_scalar(const float *src, uint16_t *dst, int64_t n);
void lr_quantize_row_q8_0_scalar(const float *src, void *dst, int64_t n);

#if defined(__x86_64__)
/// Every half's f32 value (256 KiB), filled by lr_kernels_init before an x86 SIMD backend runs.
/// Kernels convert block scales with one load from it: scalar F16C conversions cost vector-port
/// shuffles (and compilers chain them through false dependencies), and block scales are too far
/// apart to convert eight at a time.
extern float lr_f16_table[1 << 16];
void lr_f16_table_init(void);

int lr_gemm_q8_avx2(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                    const void *a, size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
int lr_cross_tile_f32_avx2(const float *x, size_t ldx, const float *y, size_t ldy, int rows, int i0, int i1,
                           int j0, int j1, double *out, size_t ldo);
int lr_gemm_f32a_avx2(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end, const float *a,
                      size_t a_ld, int n_tok, int k, float *out, size_t out_ld);
void lr_quantize_row_q8_0_avx2(const float *src, void *dst, int64_t n);
void lr_f16_to_f32_row_f16c(const uint16_t *src, float *dst, int64_t n);
void lr_f32_to_f16_row_f16c(const float *src, uint16_t *dst, int64_t n);
void lr_bf16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n);
void lr_f32_to_bf16_row_avx2(const float *src, uint16_t *dst, int64_t n);
void lr_swiglu_avx2(float *gate, const float *up, int64_t n);
void lr_attend_f16_avx2(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int d, float scale,
                        float *scores, float *out);
void lr_geglu_avx2(float *gate, const float *up, int64_t n);
int lr_gemm_q8_x8_avx2(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                       int n_tok, int k, float *out, size_t out_ld);
int lr_gemm_f32a_x8_avx2(int wtype, const void *w, int group_begin, int group_end, const float *a, size_t a_ld,
                         int n_tok, int k, float *out, size_t out_ld);
int lr_gemm_kx8_avx2(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                     int n_tok, int k, float *out, size_t out_ld);
int lr_gemm_kx8_avx512vnni(int wtype, const void *w, int group_begin, int group_end, const void *a,
                           size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
int lr_gemm_q8_x8_avx512vnni(int wtype, const void *w, int group_begin, int group_end, const void *a,
                             size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
#endif

#if defined(__aarch64__)
int lr_gemm_q8_neon(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                    const void *a, size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
int lr_gemm_q8_neon_dotprod(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                            const void *a, size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
void lr_quantize_row_q8_0_neon(const float *src, void *dst, int64_t n);
void lr_f16_to_f32_row_neon(const uint16_t *src, float *dst, int64_t n);
void lr_f32_to_f16_row_neon(const float *src, uint16_t *dst, int64_t n);
void lr_swiglu_neon(float *gate, const float *up, int64_t n);
void lr_attend_f16_neon(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int d, float scale,
                        float *scores, float *out);
void lr_geglu_neon(float *gate, const float *up, int64_t n);
int lr_gemm_kx8_neon(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                     int n_tok, int k, float *out, size_t out_ld);
int lr_gemm_kx8_neon_dotprod(int wtype, const void *w, int group_begin, int group_end, const void *a,
                             size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
int lr_gemm_q8_x8_neon(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                       int n_tok, int k, float *out, size_t out_ld);
int lr_gemm_q8_x8_neon_dotprod(int wtype, const void *w, int group_begin, int group_end, const void *a,
                               size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
#endif

// ---------------------------------------------------------------------------
// Scalar f16 / bf16 conversion, inlinable into the kernels.

/// Q5's qh bytes as one little-endian word (bit j: value j's fifth bit).
LR_INLINE uint32_t lr_load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
// Q4_K / Q5_K scales: eight 6-bit (scale, min) pairs in 12 bytes. Pairs 0..3 sit in the low 6 bits
// of bytes 0..3 (scales) and 4..7 (mins); pairs 4..7 take a nibble from bytes 8..11 and their top
// two bits from the spare bits 6..7 of bytes 0..7.
LR_INLINE void lr_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

LR_INLINE uint32_t lr_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
LR_INLINE float lr_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/// binary16 -> f32 in integer arithmetic only. Kernels convert block scales with this: it runs on
/// the integer pipes, beside the vector work, and has none of the false dependencies compilers
/// give scalar F16C conversions. NaN comes back quiet, as F16C and NEON return it.
LR_INLINE float lr_f16_to_f32_inline(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;
    uint32_t bits = (em << 13) + 0x38000000u;  // rebias the exponent from 15 to 127
    if (em >= 0x7c00u) {                       // inf / NaN: exponent all ones
        bits += 0x38000000u;
        if (em > 0x7c00u) bits |= 0x400000u;
    } else if (em < 0x0400u) {  // zero or subnormal: em * 2^-24, normalised by hand
        if (em == 0) {
            bits = 0;
        } else {
            const uint32_t top = 31u - (uint32_t)__builtin_clz(em);  // 0..9
            bits = ((top + 103u) << 23) | ((em << (23u - top)) & 0x7fffffu);
        }
    }
    return lr_bits_f32(sign | bits);
}

LR_INLINE uint16_t lr_f32_to_f16_inline(float f) {
    uint32_t x = lr_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));  // NaN, quieted
    if (x >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // >= 65520 rounds to inf
    if (x >= 0x38800000u) {  // result is a normal half: rebias and round at bit 13, ties to even
        uint32_t r = x - 0x38000000u;
        r += 0x0fffu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    if (x <= 0x33000000u) return sign;  // <= 2^-25: rounds to zero (2^-25 is a tie, to even)
    // Subnormal half: value / 2^-24 rounded to nearest even.
    uint32_t e = x >> 23;
    uint32_t m = (x & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;  // 14..24
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

LR_INLINE float lr_bf16_to_f32_inline(uint16_t h) { return lr_bits_f32((uint32_t)h << 16); }

LR_INLINE uint16_t lr_f32_to_bf16_inline(float f) {
    uint32_t x = lr_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);  // NaN: force quiet
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

#endif
