// llmrun's numeric kernels: format conversion, quantized dot products and mat-muls.
// Pure C11, no model knowledge. Every public entry point dispatches to the best
// implementation for this CPU (chosen once, see lr_kernels_init); the *_scalar
// variants are plain C and serve as test oracles for the SIMD ones.
#ifndef LR_CKERNELS_H
#define LR_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "ckernels_blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------
// Runtime dispatch

/// Picks implementations from CPU features. Idempotent and thread-safe; every
/// dispatched entry point calls it on first use, so calling it is optional.
void lr_kernels_init(void);
/// Name of the active backend: "avx2", "neon", "neon+dotprod" or "scalar".
const char *lr_kernels_backend(void);
/// Asks the kernel to back [p, p + n) with transparent huge pages (Linux madvise MADV_HUGEPAGE;
/// p page-aligned). Returns 0 when it was taken, -1 when not (other systems, THP off).
int lr_advise_huge_pages(void *p, size_t n);
/// Forces a backend by name ("auto" = best for this CPU). Returns 0, or -1 if
/// the name is unknown or the CPU cannot run it (the active backend is unchanged).
/// Not meant to be called while other threads are running kernels.
int lr_kernels_force(const char *name);

// ---------------------------------------------------------------------------
// f16 / bf16 <-> f32

/// IEEE binary16 -> f32 (exact, including subnormals and inf; NaN comes back quiet, as with F16C).
float lr_f16_to_f32(uint16_t h);
/// f32 -> binary16, round to nearest even; NaN stays NaN (quiet, sign and top payload kept), as F16C.
uint16_t lr_f32_to_f16(float f);
/// bfloat16 -> f32 (exact).
float lr_bf16_to_f32(uint16_t h);
/// f32 -> bfloat16, round to nearest even; NaN forced quiet (ggml's rule).
uint16_t lr_f32_to_bf16(float f);

/// Bulk conversions (F16C / NEON when available; bit-identical to the scalar helpers).
void lr_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n);
void lr_f32_to_f16_row(const float *src, uint16_t *dst, int64_t n);
void lr_bf16_to_f32_row(const uint16_t *src, float *dst, int64_t n);
void lr_f32_to_bf16_row(const float *src, uint16_t *dst, int64_t n);

// ---------------------------------------------------------------------------
// Dequantization to f32 (scalar, ggml semantics). n is the number of values and
// must be a multiple of the type's block size (32, or 256 for K-quants).

void lr_dequantize_row_f32(const void *src, float *dst, int64_t n);
void lr_dequantize_row_f16(const void *src, float *dst, int64_t n);
void lr_dequantize_row_bf16(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q8_0(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q4_0(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q4_1(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q5_0(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q5_1(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q2_K(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q3_K(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q4_K(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q5_K(const void *src, float *dst, int64_t n);
void lr_dequantize_row_q6_K(const void *src, float *dst, int64_t n);
void lr_dequantize_row_iq4_nl(const void *src, float *dst, int64_t n);
void lr_dequantize_row_iq4_xs(const void *src, float *dst, int64_t n);
/// IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S rows (n a multiple of 256) by ggml
/// type id. Returns 0, or -1 for another type.
int lr_dequantize_row_iq_grid(int ggml_type, const void *src, float *dst, int64_t n);
/// TQ1_0 and TQ2_0 rows (n a multiple of 256) by ggml type id. Returns 0, or -1 for another type.
int lr_dequantize_row_ternary(int ggml_type, const void *src, float *dst, int64_t n);
/// Q1_0 and Q2_0 rows (n a multiple of 128 / 64) by ggml type id. Returns 0, or -1 for another type.
int lr_dequantize_row_q1_q2(int ggml_type, const void *src, float *dst, int64_t n);
/// Dequantizes by ggml type id. Returns 0, or -1 for an unsupported type.
int lr_dequantize_row(int ggml_type, const void *src, float *dst, int64_t n);
/// Q4_K rows (n a multiple of 256) as Q4_1 blocks with the same quants: a kernel format at 5
/// bits per value instead of Q8_0's 8.5, differing from Q4_K only by f16 rounding of the scales.
void lr_convert_row_q4_K_to_q4_1(const void *src, void *dst, int64_t n);
/// Q5_K rows (n a multiple of 256) as Q5_1 blocks with the same quants and fifth bits: 6 bits a
/// value in the kernel format instead of Q8_0's 8.5; only the scales' products are rounded to f16.
void lr_convert_row_q5_K_to_q5_1(const void *src, void *dst, int64_t n);
/// IQ4_XS rows (n a multiple of 256) as IQ4_NL blocks, one per sub-block, with the same nibbles
/// and scale d * (scale - 32) rounded to f16: the only difference from the source values.
void lr_convert_row_iq4_xs_to_iq4_nl(const void *src, void *dst, int64_t n);

// ---------------------------------------------------------------------------
// Quantization of f32 rows. The *_ref functions use ggml's reference rounding,
// so their bytes equal llama-quantize's for the same input.

void lr_quantize_row_q8_0_ref(const float *src, void *dst, int64_t n);
void lr_quantize_row_q4_0_ref(const float *src, void *dst, int64_t n);
void lr_quantize_row_q4_1_ref(const float *src, void *dst, int64_t n);
void lr_quantize_row_q5_0_ref(const float *src, void *dst, int64_t n);
void lr_quantize_row_q5_1_ref(const float *src, void *dst, int64_t n);
void lr_quantize_row_f16_ref(const float *src, void *dst, int64_t n);
void lr_quantize_row_bf16_ref(const float *src, void *dst, int64_t n);
/// Quantizes by ggml type id (F32, F16, BF16, Q8_0, Q4_0, Q4_1). Returns 0, or -1 if unsupported.
int lr_quantize_row_ref(int ggml_type, const float *src, void *dst, int64_t n);
/// Quantizes one row choosing each block's scale (and Q4_1's offset) by weighted least squares:
/// minimises sum_j weights[j] * (x[j] - xhat[j])^2 over a few candidate level assignments
/// (weights NULL: all ones). Q4_0, Q4_1 and IQ4_NL (which has no reference rounding here);
/// other types as lr_quantize_row_ref.
int lr_quantize_row_fit(int ggml_type, const float *src, void *dst, int64_t n, const float *weights);
/// Activation quantizer for the dot products (SIMD). Same scale as the reference;
/// values are rounded half away from zero like roundf, so it currently matches _ref bit for bit.
void lr_quantize_row_q8_0(const float *src, void *dst, int64_t n);
/// Activations as llama.cpp's Q8_K rounds them (one scale per 256 values), laid out as Q8_0 blocks;
/// n a multiple of 256. For the formats lr_activations_per_256 names.
void lr_quantize_row_q8_0_k256(const float *src, void *dst, int64_t n);
/// Whether a matrix of this type takes lr_quantize_row_q8_0_k256's activations (TQ1_0, TQ2_0).
int lr_activations_per_256(int wtype);

// ---------------------------------------------------------------------------
// Dot products: one weight row (Q8_0, Q4_0 or Q4_1; IQ4_NL, Q5_0 and Q5_1 have only the scalar one) with one Q8_0 activation row.
// n is the number of values, a multiple of 32. Result in *s.

void lr_vec_dot_q8_0_q8_0(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_0_q8_0(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_1_q8_0(int n, float *s, const void *w, const void *a);

void lr_vec_dot_q8_0_q8_0_scalar(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_0_q8_0_scalar(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_1_q8_0_scalar(int n, float *s, const void *w, const void *a);
/// IQ4_NL, Q5_0 and Q5_1 have no SIMD row kernels (they run in the x8 layout): these are their
/// row dots everywhere.
void lr_vec_dot_iq4_nl_q8_0_scalar(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q5_0_q8_0_scalar(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q5_1_q8_0_scalar(int n, float *s, const void *w, const void *a);
/// K-quant rows (n a multiple of 256, the file's own super-blocks) with Q8_0 activations, one
/// activation block per 32 values. Their SIMD kernels run in the x8 layout; these are the row dots.
void lr_vec_dot_q4_K_q8_0_scalar(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q5_K_q8_0_scalar(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q6_K_q8_0_scalar(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q2_K_q8_0_scalar(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q3_K_q8_0_scalar(int n, float *s, const void *w, const void *a);

#if defined(__x86_64__)
void lr_vec_dot_q8_0_q8_0_avx2(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_0_q8_0_avx2(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_1_q8_0_avx2(int n, float *s, const void *w, const void *a);
#endif
#if defined(__aarch64__)
void lr_vec_dot_q8_0_q8_0_neon(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_0_q8_0_neon(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_1_q8_0_neon(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q8_0_q8_0_neon_dotprod(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_0_q8_0_neon_dotprod(int n, float *s, const void *w, const void *a);
void lr_vec_dot_q4_1_q8_0_neon_dotprod(int n, float *s, const void *w, const void *a);
#endif

// ---------------------------------------------------------------------------
// Quantized mat-vec / mat-mat over a range of output rows.
//
// W: weight matrix of type wtype (LR_TYPE_Q8_0, _Q4_0, _Q4_1, _IQ4_NL, _Q5_0, _Q5_1, or the K-quants
//    _Q2_K, _Q3_K, _Q4_K, _Q5_K, _Q6_K with k a multiple of 256, or a format decoded per tile, see
//    lr_tile_decode_format), rows of k values,
//    row r starting at (const char *)w + r * w_row_bytes.
// A: n_tok Q8_0 activation rows of k values, row t at (const char *)a + t * a_row_bytes.
// out[t * out_ld + r] = dot(W row r, A row t) for r in [row_begin, row_end), t in [0, n_tok).
// k must be a multiple of 32. Threads split the work by calling this on disjoint row ranges.
// Int8 values must lie in -127..127, as every Q8_0 quantizer writes them (-128 would overflow the
// x86 sign trick). Uses about 28 KiB of stack (more k than 32768 or so moves scratch to the heap).
// Returns 0, or -1 for an unsupported wtype or bad arguments.
int lr_gemm_q8(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
               const void *a, size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
/// Same contract, plain loops over the scalar dot products (test oracle).
int lr_gemm_q8_scalar(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                      const void *a, size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);

// The same product with f32 activations: a holds n_tok rows of k floats, a_ld floats apart. The
// weights are dequantized to f32 and multiplied in f32 (no activation quantization). Backends
// where this beats the int8 path for batches (AVX2 without VNNI) provide it; elsewhere it returns -1.
int lr_gemm_f32a(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                 const float *a, size_t a_ld, int n_tok, int k, float *out, size_t out_ld);
/// The smallest batch from which lr_gemm_f32a is the faster choice on the active backend, or 0
/// when the backend has no such path (then use lr_gemm_q8).
int lr_gemm_f32a_min_batch(void);
/// The same for weights of wtype, in the x8 layout when x8 is set: x8 Q4 weights stay on the
/// int8 kernels at every batch size on AVX2 (0), where one broadcast activation word feeds 8 rows.
int lr_gemm_f32a_min_batch_for(int wtype, int x8);
/// Same contract as lr_gemm_f32a, plain loops over dequantized rows (test oracle; any backend).
int lr_gemm_f32a_scalar(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                        const float *a, size_t a_ld, int n_tok, int k, float *out, size_t out_ld);

// ---------------------------------------------------------------------------
// Row-interleaved weights ("x8"), the layout mat-vecs stream fastest (Q4_0, Q4_1, IQ4_NL, Q5_0,
// Q5_1, Q8_0; IQ4_NL is laid out as Q4_0, Q5_0 and Q5_1 as Q4_0 and Q4_1 with the 8 rows' fifth
// bits before the quants).
//
// Rows go in groups of 8. A group holds, for each block column b in order, the 8 rows' block b:
// their scales d[8] (f16), for Q4_1 their mins m[8] (f16), then the quants as 32-byte chunks,
// four for Q4 and eight for Q8_0. Chunk c holds, for row i = 0..7, bytes 4c..4c+3 of row i's
// qs: for Q4, low nibbles are row i's values 4c..4c+3 and high nibbles its values
// 16+4c..16+4c+3; for Q8_0 the bytes are values 4c..4c+3. So one 32-bit lane of a chunk is one
// row, and a kernel multiplies 8 rows by one broadcast activation word without horizontal sums,
// reading the weights in one sequence (llama.cpp repacks at load for the same reason; this is
// our own layout). A group takes the bytes of its 8 rows in the file layout.
//
// K-quants (Q2_K to Q6_K) group by super-block column instead: the 8 rows' f16 scales (d, then
// dmin) as 8 halves each, then every other 4-byte word of the super-block (6-bit scales, quants,
// high bits) as a 32-byte chunk holding row i's word in lane i (type_traits.h: lr_kx8_position).

/// 1 when the active backend's x8 kernels beat the file layout for wtype, else 0 (the layout
/// still works everywhere: every backend falls back to the scalar x8 kernels).
int lr_x8_preferred(int wtype);
/// Bytes of one group of 8 rows of k values, or 0 for a type without an x8 layout (Q4_0, Q4_1, IQ4_NL, Q5_0, Q5_1,
/// Q8_0 have one; so do Q2_K to Q6_K, with k a multiple of 256).
size_t lr_x8_group_bytes(int wtype, int k);
/// Interleaves 8 rows (row i at src + i * src_row_bytes, file layout) into one group at dst.
/// Returns 0, or -1 for an unsupported type or k not a multiple of 32.
int lr_x8_pack(int wtype, const void *src, size_t src_row_bytes, int k, void *dst);
/// Row i (0..7) of a group, back in the file layout (k / 32 blocks at dst). Returns 0 or -1.
int lr_x8_unpack_row(int wtype, const void *group, int i, int k, void *dst);

/// out[t * out_ld + 8g + i] = dot(row i of group g, A row t) for groups g in [group_begin,
/// group_end) (w points at group 0) and tokens t in [0, n_tok). Otherwise as lr_gemm_q8.
int lr_gemm_q8_x8(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                  int n_tok, int k, float *out, size_t out_ld);
/// The definition: each row unpacked and dotted with lr_vec_dot_*_scalar (test oracle).
int lr_gemm_q8_x8_scalar(int wtype, const void *w, int group_begin, int group_end, const void *a,
                         size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld);
/// The same with f32 activations (as lr_gemm_f32a): -1 where the backend has no f32 path.
int lr_gemm_f32a_x8(int wtype, const void *w, int group_begin, int group_end, const float *a, size_t a_ld,
                    int n_tok, int k, float *out, size_t out_ld);
/// The definition: rows unpacked and run through lr_gemm_f32a_scalar (test oracle).
int lr_gemm_f32a_x8_scalar(int wtype, const void *w, int group_begin, int group_end, const float *a, size_t a_ld,
                           int n_tok, int k, float *out, size_t out_ld);

// ---------------------------------------------------------------------------
// Formats run decoded per tile: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M,
// TQ1_0, TQ2_0 stay in their file bytes (row layout, k a multiple of 256). lr_gemm_q8 and
// lr_gemm_f32a take them: each group of 8 rows is decoded into a per-thread scratch as Q8_0
// (lr_decode_rows_q8_0) and run through the active backend's Q8_0 kernels for all n_tok tokens.

/// The kernel format wtype is decoded into per tile (LR_TYPE_Q8_0), or -1 when it is not.
int lr_tile_decode_format(int wtype);
/// Rows [row_begin, row_end) of such a matrix as Q8_0 rows at dst (k / 32 * 34 bytes each):
/// the IQ grids' 32-value blocks with one scale exactly (whole levels, the scale rounded to f16);
/// the rest dequantized, then quantized with the reference rounding (as lr_quantize_row_q8_0_ref),
/// the bytes a load-time Q8_0 copy held. scratch holds k floats. Returns 0 or -1.
int lr_decode_rows_q8_0(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end, int k, void *dst,
                        float *scratch);

// ---------------------------------------------------------------------------
// Attention over an f16 KV cache.

/// One query head's attention over n cached positions in f16: scores[s] = scale * q . k_s,
/// softmax over s in place (scores holds the probabilities after), out = sum_s scores[s] v_s.
/// k and v point at the head's first position; rows are `stride` halves apart, d values used
/// (any d; multiples of 8 take the SIMD paths). n >= 1.
void lr_attend_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int d, float scale,
                   float *scores, float *out);
/// The definition on libm's expf (test oracle; any backend).
void lr_attend_f16_scalar(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int d,
                          float scale, float *scores, float *out);

// ---------------------------------------------------------------------------
// Gated MLP activations, in place: gate[i] = act(gate[i]) * up[i].

/// SwiGLU: act = silu(g) = g / (1 + e^-g).
void lr_swiglu(float *gate, const float *up, int64_t n);
/// GeGLU: act = GELU's tanh form, 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))).
void lr_geglu(float *gate, const float *up, int64_t n);
/// The definitions on libm (test oracle; any backend). The SIMD versions agree within a few ulp.
void lr_swiglu_scalar(float *gate, const float *up, int64_t n);
void lr_geglu_scalar(float *gate, const float *up, int64_t n);

/// Tells the core it is in a spin-wait loop (x86 `pause`, Arm `yield`): the waiting thread
/// draws less power and leaves its core's shared resources to the thread it waits for.
static inline void lr_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

#ifdef __cplusplus
}
#endif

#endif
