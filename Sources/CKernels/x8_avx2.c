// AVX2 mat-vec / small mat-mul on x8 (row-interleaved) Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and Q8_0 weights with
// Q8_0 activations.
//
// Why this layout is faster than rows (see ckernels.h for the layout): per 8 rows x 32 values a
// row kernel spends 8 x (unpack 3 + maddubs 2 + madd + cvt + scale load, multiply, fma) ~ 80
// vector ops and 24 integer multiplies on the one port Zen 2 runs them on. Here one activation
// word broadcast from memory serves all 8 rows (a 32-bit lane each): 12 unpack ops, 8 maddubs
// whose int16 sums add without overflow (8 x 2 x 15 x 127 < 32767), one madd, and one scale
// multiply for 8 rows: ~33 ops and 9 multiplies, so generation is held by memory, not by the core.
#include "avx2_int8.h"
#include "gemm_tiling.h"
#include "interleave_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { X8_NT = 3 };  // tokens sharing each unpacked block column (unpacked quants + accumulators in 16 registers)

/// Per token and block: the activation scale, and its int8 sum times the weights' offset (Q4_0:
/// 8, Q5_0: 16; removed in integers) or the scale times the sum (Q4_1, Q5_1: the mins' term).
typedef struct {
    float da;
    union { int32_t off; float sa; };
} x8_act;

static LR_TARGET_AVX2 void prep_acts(const uint8_t *a, size_t a_row_bytes, int nt, int nb, int wtype, x8_act *acts) {
    for (int t = 0; t < nt; t++) {
        const lr_block_q8_0 *ab = (const lr_block_q8_0 *)(a + (size_t)t * a_row_bytes);
        x8_act *o = acts + (size_t)t * nb;
        for (int b = 0; b < nb; b++) {
            const float d = lr_f16_table[ab[b].d];
            const int32_t s = wtype == LR_TYPE_Q8_0 || wtype == LR_TYPE_IQ4_NL ? 0 : sum_i8x32(ab[b].qs);
            o[b].da = d;
            if (wtype == LR_TYPE_Q4_0) o[b].off = 8 * s;
            else if (wtype == LR_TYPE_Q5_0) o[b].off = 16 * s;
            else if (lr_x8_has_mins(wtype)) o[b].sa = d * (float)s;
        }
    }
}

/// Q5_0's fifth bits for one quant chunk, as 0x10 in the bytes whose value has it: byte k of lane
/// i is value 4c + k of row i (first = 0; 16 + 4c + k for the high nibbles, first = 2), whose bit
/// sits in byte first + c/2 of row i's qh lane. A shuffle copies that byte into the lane's four,
/// then each byte tests its own bit.
LR_INLINE LR_TARGET_AVX2 __m256i q5_fifth_bits(__m256i qh, const int c, const int first) {
    const char b = (char)(first + (c >> 1));
    const __m256i pick = _mm256_setr_epi8(b, b, b, b, b + 4, b + 4, b + 4, b + 4, b + 8, b + 8, b + 8, b + 8, b + 12,
                                          b + 12, b + 12, b + 12, b, b, b, b, b + 4, b + 4, b + 4, b + 4, b + 8, b + 8,
                                          b + 8, b + 8, b + 12, b + 12, b + 12, b + 12);
    const __m256i bit = _mm256_set1_epi32((int32_t)(0x08040201u << (4 * (c & 1))));
    const __m256i has = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(qh, pick), bit), bit);
    return _mm256_and_si256(has, _mm256_set1_epi8(0x10));
}

/// One group (8 rows) of Q4_0, Q4_1, Q5_0 or Q5_1 against NT tokens: out[j * out_ld + i] for row i,
/// token j. The quants multiply unsigned (maddubs' first operand) and the offset comes off the
/// integer sum.
LR_INLINE LR_TARGET_AVX2 void x8_group(const uint8_t *grp, int nb, const uint8_t *a, size_t a_row_bytes,
                                       const x8_act *acts, float *out, size_t out_ld, const int NT, const int wtype) {
    const size_t bb = lr_x8_block_bytes(wtype);
    const __m256i nibble = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc[X8_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = grp + (size_t)b * bb;
        const uint8_t *qs = blk + lr_x8_qs_offset(wtype);
        __m256i lo[4], hi[4];
        LR_UNROLL
        for (int c = 0; c < 4; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            lo[c] = _mm256_and_si256(v, nibble);
            hi[c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
        }
        if (lr_x8_has_qh(wtype)) {
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(blk + lr_x8_qh_offset(wtype)));
            LR_UNROLL
            for (int c = 0; c < 4; c++) {
                lo[c] = _mm256_or_si256(lo[c], q5_fifth_bits(qh, c, 0));
                hi[c] = _mm256_or_si256(hi[c], q5_fifth_bits(qh, c, 2));
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
        LR_UNROLL
        for (int j = 0; j < NT; j++) {
            const int8_t *aq = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[b].qs;
            const x8_act *act = acts + (size_t)j * nb + b;
            __m256i pair[4];  // chunk c's products, pairs summed in int16
            LR_UNROLL
            for (int c = 0; c < 4; c++) {
                int32_t w0, w1;
                memcpy(&w0, aq + 4 * c, 4);
                memcpy(&w1, aq + 16 + 4 * c, 4);
                pair[c] = _mm256_add_epi16(_mm256_maddubs_epi16(lo[c], _mm256_set1_epi32(w0)),
                                           _mm256_maddubs_epi16(hi[c], _mm256_set1_epi32(w1)));
            }
            // Four chunks' int16 sums reach 8 x 2 x 15 x 127 < 32767 for 4-bit quants; 5-bit
            // ones reach twice that, so their halves widen first.
            const __m256i s01 = _mm256_add_epi16(pair[0], pair[1]), s23 = _mm256_add_epi16(pair[2], pair[3]);
            __m256i isum = lr_x8_has_qh(wtype)
                               ? _mm256_add_epi32(_mm256_madd_epi16(s01, ones), _mm256_madd_epi16(s23, ones))
                               : _mm256_madd_epi16(_mm256_add_epi16(s01, s23), ones);
            if (wtype == LR_TYPE_Q4_0 || wtype == LR_TYPE_Q5_0) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(act->off));
            __m256 dav = _mm256_broadcast_ss(&act->da);
            LR_OPAQUE(dav);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d, dav), acc[j]);
            if (lr_x8_has_mins(wtype))
                acc[j] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16))),
                                         _mm256_broadcast_ss(&act->sa), acc[j]);
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) _mm256_storeu_ps(out + (size_t)j * out_ld, acc[j]);
}

/// Q8_0 and IQ4_NL, whose weights are signed bytes (IQ4_NL's once its nibbles are looked up in
/// the level table, one shuffle per 32 of them: the same chunks Q8_0 stores). maddubs needs one
/// unsigned operand, so each chunk multiplies |a| by w carrying a's sign; a's block is made
/// absolute once per token (kept on the stack for the broadcasts). Its pair sums reach 2 x 127 x
/// 127 (IQ4_NL's levels reach -127 too), so each chunk is widened (madd) before they add: 8 x
/// (sign, maddubs, madd, add) per 8 rows x 32 values, against ~64 ops for 8 rows one at a time.
LR_INLINE LR_TARGET_AVX2 void x8_group_signed(const uint8_t *grp, int nb, const uint8_t *a, size_t a_row_bytes,
                                              const x8_act *acts, float *out, size_t out_ld, const int NT,
                                              const int wtype) {
    const size_t bb = lr_x8_block_bytes(wtype);
    const __m256i ones = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0f);
    const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)lr_iq4_values));
    __m256 acc[X8_NT];
    _Alignas(32) int8_t absa[X8_NT][LR_QK];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = grp + (size_t)b * bb;
        const uint8_t *qs = blk + lr_x8_qs_offset(wtype);
        __m256i q[8];  // chunk c of Q8_0's layout: values 4c..4c+3 (c < 4) or 16+4(c-4).. of each row
        LR_UNROLL
        for (int c = 0; c < 4; c++) {
            if (wtype == LR_TYPE_IQ4_NL) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                q[c] = _mm256_shuffle_epi8(levels, _mm256_and_si256(v, nibble));
                q[4 + c] = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
            } else {
                q[c] = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                q[4 + c] = _mm256_loadu_si256((const __m256i *)(qs + 32 * (4 + c)));
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
        LR_UNROLL
        for (int j = 0; j < NT; j++) {
            const int8_t *aq = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[b].qs;
            _mm256_store_si256((__m256i *)absa[j], _mm256_abs_epi8(_mm256_loadu_si256((const __m256i *)aq)));
            __m256i isum = _mm256_setzero_si256();
            LR_UNROLL
            for (int c = 0; c < 8; c++) {
                int32_t sw, uw;
                memcpy(&sw, aq + 4 * c, 4);
                memcpy(&uw, absa[j] + 4 * c, 4);
                const __m256i p = _mm256_maddubs_epi16(_mm256_set1_epi32(uw), _mm256_sign_epi8(q[c], _mm256_set1_epi32(sw)));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, ones));
            }
            __m256 dav = _mm256_broadcast_ss(&acts[(size_t)j * nb + b].da);
            LR_OPAQUE(dav);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d, dav), acc[j]);
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) _mm256_storeu_ps(out + (size_t)j * out_ld, acc[j]);
}

/// x8_WNAME_NT: one noinline function per type and token count (its own register allocation).
#define X8_GROUP(KERNEL, WNAME, WTYPE, NT)                                                                         \
    static __attribute__((noinline)) LR_TARGET_AVX2 void x8_##WNAME##_##NT(                                       \
        const uint8_t *grp, int nb, const uint8_t *a, size_t a_row_bytes, const x8_act *acts, float *out,       \
        size_t out_ld) {                                                                                         \
        KERNEL(grp, nb, a, a_row_bytes, acts, out, out_ld, NT, WTYPE);                                           \
    }
X8_GROUP(x8_group_signed, q8_0, LR_TYPE_Q8_0, 1)
X8_GROUP(x8_group_signed, q8_0, LR_TYPE_Q8_0, 2)
X8_GROUP(x8_group_signed, q8_0, LR_TYPE_Q8_0, 3)
X8_GROUP(x8_group_signed, iq4_nl, LR_TYPE_IQ4_NL, 1)
X8_GROUP(x8_group_signed, iq4_nl, LR_TYPE_IQ4_NL, 2)
X8_GROUP(x8_group_signed, iq4_nl, LR_TYPE_IQ4_NL, 3)
X8_GROUP(x8_group, q4_0, LR_TYPE_Q4_0, 1)
X8_GROUP(x8_group, q4_0, LR_TYPE_Q4_0, 2)
X8_GROUP(x8_group, q4_0, LR_TYPE_Q4_0, 3)
X8_GROUP(x8_group, q4_1, LR_TYPE_Q4_1, 1)
X8_GROUP(x8_group, q4_1, LR_TYPE_Q4_1, 2)
X8_GROUP(x8_group, q4_1, LR_TYPE_Q4_1, 3)
X8_GROUP(x8_group, q5_0, LR_TYPE_Q5_0, 1)
X8_GROUP(x8_group, q5_0, LR_TYPE_Q5_0, 2)
X8_GROUP(x8_group, q5_0, LR_TYPE_Q5_0, 3)
X8_GROUP(x8_group, q5_1, LR_TYPE_Q5_1, 1)
X8_GROUP(x8_group, q5_1, LR_TYPE_Q5_1, 2)
X8_GROUP(x8_group, q5_1, LR_TYPE_Q5_1, 3)

typedef void (*x8_group_fn)(const uint8_t *, int, const uint8_t *, size_t, const x8_act *, float *, size_t);
_Static_assert(X8_NT == 3, "x8 group kernels are instantiated for 1..3 tokens");

enum { X8_STACK_BLOCKS = 2048 };  // k up to 65536 keeps its activation terms on the stack

int lr_gemm_q8_x8_avx2(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                       int n_tok, int k, float *out, size_t out_ld) {
    static const x8_group_fn q4_0[X8_NT + 1] = {NULL, x8_q4_0_1, x8_q4_0_2, x8_q4_0_3};
    static const x8_group_fn q4_1[X8_NT + 1] = {NULL, x8_q4_1_1, x8_q4_1_2, x8_q4_1_3};
    static const x8_group_fn q8_0[X8_NT + 1] = {NULL, x8_q8_0_1, x8_q8_0_2, x8_q8_0_3};
    static const x8_group_fn iq4_nl[X8_NT + 1] = {NULL, x8_iq4_nl_1, x8_iq4_nl_2, x8_iq4_nl_3};
    static const x8_group_fn q5_0[X8_NT + 1] = {NULL, x8_q5_0_1, x8_q5_0_2, x8_q5_0_3};
    static const x8_group_fn q5_1[X8_NT + 1] = {NULL, x8_q5_1_1, x8_q5_1_2, x8_q5_1_3};
    const x8_group_fn *fns = wtype == LR_TYPE_Q4_0    ? q4_0
                             : wtype == LR_TYPE_Q4_1  ? q4_1
                             : wtype == LR_TYPE_Q8_0  ? q8_0
                             : wtype == LR_TYPE_IQ4_NL ? iq4_nl
                             : wtype == LR_TYPE_Q5_0  ? q5_0
                             : wtype == LR_TYPE_Q5_1  ? q5_1
                                                       : NULL;
    if (fns == NULL || k < 0 || k % LR_QK != 0 || group_begin < 0 || group_end < group_begin || n_tok < 0) return -1;
    if (group_begin == group_end || n_tok == 0 || k == 0) return 0;
    lr_kernels_init();  // lr_f16_table

    const int nb = k / LR_QK;
    const size_t gb = lr_x8_group_bytes(wtype, k);
    x8_act stack_acts[X8_NT * X8_STACK_BLOCKS], *acts = stack_acts;
    if (nb > X8_STACK_BLOCKS) {
        acts = malloc((size_t)X8_NT * nb * sizeof *acts);
        if (!acts) return -1;
    }
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)a;
    // Tokens outermost, a few at a time: batches this small re-read the weights per token group,
    // and the larger ones take the f32-activation path (lr_gemm_f32a_x8).
    for (int t = 0; t < n_tok; t += X8_NT) {
        const int nt = n_tok - t < X8_NT ? n_tok - t : X8_NT;
        const uint8_t *at = ab + (size_t)t * a_row_bytes;
        prep_acts(at, a_row_bytes, nt, nb, wtype, acts);
        for (int g = group_begin; g < group_end; g++)
            fns[nt](wb + (size_t)g * gb, nb, at, a_row_bytes, acts, out + (size_t)t * out_ld + 8 * (size_t)g, out_ld);
    }
    if (acts != stack_acts) free(acts);
    return 0;
}

#endif
