// AVX-512 VNNI mat-vec / mat-mul on x8 K-quants (Q4_K, Q5_K, Q6_K) with Q8_0 activations: the
// "avx512vnni" backend's gemm_kx8. The weights are the file's own super-blocks, only interleaved
// 8 rows at a time at load (the same bytes), so generation reads 4.5 / 6.56 bits a value instead
// of the 5 / 8.5 of the Q4_1 / Q8_0 copies they used to run as.
//
// One zmm holds two x8 groups (16 rows, a 32-bit lane each), as in x8_avx512.c: one broadcast
// activation word feeds 16 rows through vpdpbusd. Its first operand is unsigned, and so are the
// quants (Q4_K's nibbles; Q6_K's 6-bit values before their -32, which comes off the int32 sum:
// it starts at -32 x the activations' sum), so every product is exact and |sum| < 2^31.
//
// Scales: each super-block's 6-bit scales and mins (Q4_K) or int8 scales (Q6_K) are decoded for
// 16 rows at once from their words (one lane a row), once per super-block and pair, and turned
// into float vectors per sub-block; Q8_0 activations bring one float scale per 32 values.
#include "avx2_int8.h"
#include "interleave_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { KV_NT = 8 };  // tokens sharing each decoded sub-block (8 quant registers + 8 accumulators)

typedef lr_kq_act kv_act;  // avx2_int8.h


/// 32 bytes at p0 (rows 0..7) and 32 at p1 (rows 8..15) as one register.
LR_INLINE LR_TARGET_AVX512VNNI __m512i load_pair(const uint8_t *p0, const uint8_t *p1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

/// Eight halves at p0 and eight at p1 as 16 floats.
LR_INLINE LR_TARGET_AVX512VNNI __m512 halves_pair(const uint8_t *p0, const uint8_t *p1) {
    const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p0)),
                                              _mm_loadu_si128((const __m128i *)p1), 1);
    return _mm512_cvtph_ps(h);
}

/// Byte `byte` of every lane, unsigned / signed, as floats.
LR_INLINE LR_TARGET_AVX512VNNI __m512 lane_byte_u(__m512i v, const int byte) {
    return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 8 * byte), _mm512_set1_epi32(0xff)));
}
LR_INLINE LR_TARGET_AVX512VNNI __m512 lane_byte_s(__m512i v, const int byte) {
    return _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * byte), 24));
}

/// Q4_K and Q5_K (wtype): groups g0 and g1 (16 rows; g1 may repeat g0) against NT tokens. Q5_K's
/// fifth bits: bit s of qh byte l is value l of sub-block s, so qh word c serves quant chunk c
/// of every sub-block, shifted to bit 4.
LR_INLINE LR_TARGET_AVX512VNNI void k45_pair(const uint8_t *g0, const uint8_t *g1, int nsb, const uint8_t *a,
                                             size_t a_row_bytes, const kv_act *acts, int nb, float *out,
                                             size_t out_ld, int store16, const int NT, const int wtype) {
    const int five = wtype == LR_TYPE_Q5_K;
    const size_t bb = lr_x8_block_bytes(wtype);
    const size_t sco = lr_kx8_word(wtype, 0), qho = lr_kx8_word(wtype, 3), qso = lr_kx8_word(wtype, five ? 11 : 3);
    const __m512i nibble = _mm512_set1_epi8(0x0f), m6 = _mm512_set1_epi8(0x3f), m2 = _mm512_set1_epi8(0x03);
    __m512 acc[KV_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nsb; b++) {
        const uint8_t *b0 = g0 + (size_t)b * bb, *b1 = g1 + (size_t)b * bb;
        const __m512 d = halves_pair(b0, b1), dmin = halves_pair(b0 + 16, b1 + 16);
        // The 12 scale bytes of each row as three lanes (lr_k4_scale_min, 16 rows at once):
        // scales 0..3 and mins 0..3 in the low 6 bits of u0 and u1; 4..7 a nibble of u2 each,
        // their top bits in bits 6..7 of u0 (scales) and u1 (mins).
        const __m512i u0 = load_pair(b0 + sco, b1 + sco), u1 = load_pair(b0 + sco + 32, b1 + sco + 32),
                      u2 = load_pair(b0 + sco + 64, b1 + sco + 64);
        const __m512i sc[2] = {_mm512_and_si512(u0, m6),
                               _mm512_or_si512(_mm512_and_si512(u2, nibble),
                                               _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), m2), 4))};
        const __m512i mn[2] = {
            _mm512_and_si512(u1, m6),
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), nibble),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), m2), 4))};
        LR_UNROLL
        for (int s = 0; s < 8; s++) {
            // Sub-block s: the low (even s) or high nibbles of qs chunks 8(s/2)..8(s/2)+7.
            const __m512 fsc = _mm512_mul_ps(d, lane_byte_u(sc[s / 4], s % 4));
            const __m512 fmn = _mm512_mul_ps(dmin, lane_byte_u(mn[s / 4], s % 4));
            __m512i q[8];
            LR_UNROLL
            for (int c = 0; c < 8; c++) {
                const size_t at = qso + 32 * (size_t)(8 * (s / 2) + c);
                const __m512i v = load_pair(b0 + at, b1 + at);
                q[c] = _mm512_and_si512(s % 2 ? _mm512_srli_epi16(v, 4) : v, nibble);
                if (five) {
                    const __m512i hb = load_pair(b0 + qho + 32 * c, b1 + qho + 32 * c);
                    const __m512i hs = s < 4 ? _mm512_slli_epi16(hb, 4 - s) : s == 4 ? hb : _mm512_srli_epi16(hb, s - 4);
                    q[c] = _mm512_or_si512(q[c], _mm512_and_si512(hs, _mm512_set1_epi8(0x10)));
                }
            }
            LR_UNROLL
            for (int j = 0; j < NT; j++) {
                const int8_t *aq = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[8 * b + s].qs;
                const kv_act *act = acts + (size_t)j * nb + 8 * b + s;
                __m512i isum = _mm512_setzero_si512();
                LR_UNROLL
                for (int c = 0; c < 8; c++) {
                    int32_t word;
                    memcpy(&word, aq + 4 * c, 4);
                    isum = _mm512_dpbusd_epi32(isum, q[c], _mm512_set1_epi32(word));
                }
                acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(fsc, _mm512_set1_ps(act->da)), acc[j]);
                acc[j] = _mm512_fnmadd_ps(fmn, _mm512_set1_ps(act->sa), acc[j]);
            }
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) {
        if (store16) _mm512_storeu_ps(out + (size_t)j * out_ld, acc[j]);
        else _mm512_mask_storeu_ps(out + (size_t)j * out_ld, 0x00ff, acc[j]);
    }
}

/// Q6_K: as q4k_pair. Activation block B (values 32B..32B+31) lies in half h = B / 4; quarter
/// qq = B % 4 takes the low (qq < 2) or high nibbles of ql chunks 16h + 8(qq % 2) + w and bits
/// 2qq..2qq+1 of qh chunks 8h + w, word w = 0..7; words 0..3 are sub-block 2B, 4..7 2B + 1.
LR_INLINE LR_TARGET_AVX512VNNI void q6k_pair(const uint8_t *g0, const uint8_t *g1, int nsb, const uint8_t *a,
                                             size_t a_row_bytes, const kv_act *acts, int nb, float *out,
                                             size_t out_ld, int store16, const int NT, const int wtype) {
    (void)wtype;
    const size_t bb = lr_x8_block_bytes(LR_TYPE_Q6_K);
    const size_t qlo = lr_kx8_word(LR_TYPE_Q6_K, 0), qho = lr_kx8_word(LR_TYPE_Q6_K, 32),
                 sco = lr_kx8_word(LR_TYPE_Q6_K, 48);
    const __m512i nibble = _mm512_set1_epi8(0x0f), top = _mm512_set1_epi8(0x30);
    __m512 acc[KV_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nsb; b++) {
        const uint8_t *b0 = g0 + (size_t)b * bb, *b1 = g1 + (size_t)b * bb;
        const __m512 d = halves_pair(b0, b1);
        LR_UNROLL
        for (int blk = 0; blk < 8; blk++) {
            const int h = blk / 4, qq = blk % 4;
            const __m512i sw = load_pair(b0 + sco + 32 * (size_t)(blk / 2), b1 + sco + 32 * (size_t)(blk / 2));
            const __m512 f0 = _mm512_mul_ps(d, lane_byte_s(sw, (2 * blk) % 4));
            const __m512 f1 = _mm512_mul_ps(d, lane_byte_s(sw, (2 * blk + 1) % 4));
            __m512i q[8];
            LR_UNROLL
            for (int w = 0; w < 8; w++) {
                const size_t la = qlo + 32 * (size_t)(16 * h + 8 * (qq % 2) + w), ha = qho + 32 * (size_t)(8 * h + w);
                const __m512i l = load_pair(b0 + la, b1 + la), hb = load_pair(b0 + ha, b1 + ha);
                const __m512i lo = _mm512_and_si512(qq < 2 ? l : _mm512_srli_epi16(l, 4), nibble);
                // bits 2qq..2qq+1 to 4..5 (what a shift carries over from the next byte is masked off)
                const __m512i hs = qq < 2 ? _mm512_slli_epi16(hb, 4 - 2 * qq) : qq == 2 ? hb : _mm512_srli_epi16(hb, 2);
                q[w] = _mm512_or_si512(lo, _mm512_and_si512(hs, top));
            }
            LR_UNROLL
            for (int j = 0; j < NT; j++) {
                const int8_t *aq = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[8 * b + blk].qs;
                const kv_act *act = acts + (size_t)j * nb + 8 * b + blk;
                __m512i i0 = _mm512_set1_epi32(act->s0), i1 = _mm512_set1_epi32(act->s1);
                LR_UNROLL
                for (int w = 0; w < 4; w++) {
                    int32_t w0, w1;
                    memcpy(&w0, aq + 4 * w, 4);
                    memcpy(&w1, aq + 16 + 4 * w, 4);
                    i0 = _mm512_dpbusd_epi32(i0, q[w], _mm512_set1_epi32(w0));
                    i1 = _mm512_dpbusd_epi32(i1, q[4 + w], _mm512_set1_epi32(w1));
                }
                const __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), f1, _mm512_mul_ps(_mm512_cvtepi32_ps(i0), f0));
                acc[j] = _mm512_fmadd_ps(f, _mm512_set1_ps(act->da), acc[j]);
            }
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) {
        if (store16) _mm512_storeu_ps(out + (size_t)j * out_ld, acc[j]);
        else _mm512_mask_storeu_ps(out + (size_t)j * out_ld, 0x00ff, acc[j]);
    }
}

/// kv_WNAME_NT: one noinline function per type and token count (its own register allocation).
#define KV_PAIR(KERNEL, WNAME, WTYPE, NT)                                                                                      \
    static __attribute__((noinline)) LR_TARGET_AVX512VNNI void kv_##WNAME##_##NT(                                   \
        const uint8_t *g0, const uint8_t *g1, int nsb, const uint8_t *a, size_t a_row_bytes, const kv_act *acts,   \
        int nb, float *out, size_t out_ld, int store16) {                                                          \
        KERNEL(g0, g1, nsb, a, a_row_bytes, acts, nb, out, out_ld, store16, NT, WTYPE);                           \
    }
#define KV_TYPE(K, W, T) KV_PAIR(K, W, T, 1) KV_PAIR(K, W, T, 2) KV_PAIR(K, W, T, 3) KV_PAIR(K, W, T, 4) \
    KV_PAIR(K, W, T, 5) KV_PAIR(K, W, T, 6) KV_PAIR(K, W, T, 7) KV_PAIR(K, W, T, 8)
KV_TYPE(k45_pair, q4k, LR_TYPE_Q4_K)
KV_TYPE(k45_pair, q5k, LR_TYPE_Q5_K)
KV_TYPE(q6k_pair, q6k, LR_TYPE_Q6_K)

typedef void (*kv_pair_fn)(const uint8_t *, const uint8_t *, int, const uint8_t *, size_t, const kv_act *, int,
                           float *, size_t, int);
_Static_assert(KV_NT == 8, "pair kernels are instantiated for 1..8 tokens");
#define KV_FNS(WNAME) {NULL, kv_##WNAME##_1, kv_##WNAME##_2, kv_##WNAME##_3, kv_##WNAME##_4, kv_##WNAME##_5, kv_##WNAME##_6, kv_##WNAME##_7, kv_##WNAME##_8}

enum { KV_STACK_BLOCKS = 512 };  // k up to 16384 keeps its activation terms on the stack

int lr_gemm_kx8_avx512vnni(int wtype, const void *w, int group_begin, int group_end, const void *a,
                           size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld) {
    static const kv_pair_fn q4k[] = KV_FNS(q4k), q5k[] = KV_FNS(q5k), q6k[] = KV_FNS(q6k);
    const kv_pair_fn *fns = wtype == LR_TYPE_Q4_K ? q4k : wtype == LR_TYPE_Q5_K ? q5k : wtype == LR_TYPE_Q6_K ? q6k : NULL;
    if (fns == NULL || k < 0 || k % LR_QK_K != 0 || group_begin < 0 || group_end < group_begin || n_tok < 0) return -1;
    if (group_begin == group_end || n_tok == 0 || k == 0) return 0;
    lr_kernels_init();  // lr_f16_table

    const int nb = k / LR_QK, nsb = k / LR_QK_K;
    const size_t gb = lr_x8_group_bytes(wtype, k);
    kv_act stack_acts[KV_NT * KV_STACK_BLOCKS], *acts = stack_acts;
    if (nb > KV_STACK_BLOCKS) {
        acts = malloc((size_t)KV_NT * nb * sizeof *acts);
        if (!acts) return -1;
    }
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)a;
    // Tokens outermost, a few at a time; a thread's row chunk stays in cache across token groups.
    for (int t = 0; t < n_tok; t += KV_NT) {
        const int nt = n_tok - t < KV_NT ? n_tok - t : KV_NT;
        const uint8_t *at = ab + (size_t)t * a_row_bytes;
        lr_kq_prep_acts(at, a_row_bytes, nt, nb, acts);
        float *o = out + (size_t)t * out_ld;
        for (int g = group_begin; g < group_end; g += 2) {
            const int two = g + 1 < group_end;
            const uint8_t *p0 = wb + (size_t)g * gb;
            fns[nt](p0, two ? p0 + gb : p0, nsb, at, a_row_bytes, acts, nb, o + 8 * (size_t)g, out_ld, two);
        }
    }
    if (acts != stack_acts) free(acts);
    return 0;
}

#endif
