// AVX2 mat-vec / small mat-mul on x8 K-quants (Q2_K to Q6_K) with Q8_0 activations: the "avx2"
// backend's gemm_kx8 (Zen 2 and other x86 without VNNI). Same layout and plan as kx8_avx512.c,
// one group of 8 rows per ymm, with maddubs (unsigned quants x signed activations) in place of
// vpdpbusd. Its int16 pair sums are planned per type: Q4_K's eight chunks add up to
// 8 x 2 x 15 x 128 = 30720 before one madd widens them; Q6_K's 6-bit quants reach 2 x 63 x 128
// = 16128 a chunk, so they widen two chunks at a time.
#include "avx2_int8.h"
#include "interleave_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { KA_NT = 3 };  // tokens sharing each decoded sub-block (8 quant registers + accumulators in 16)

typedef lr_kq_act ka_act;  // avx2_int8.h


LR_INLINE LR_TARGET_AVX2 __m256i load32(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
LR_INLINE LR_TARGET_AVX2 __m256 halves(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
LR_INLINE LR_TARGET_AVX2 __m256 lane_byte_u(__m256i v, const int byte) {
    return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8 * byte), _mm256_set1_epi32(0xff)));
}
LR_INLINE LR_TARGET_AVX2 __m256 lane_byte_s(__m256i v, const int byte) {
    return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * byte), 24));
}

/// Q4_K and Q5_K: one group (8 rows) against NT tokens: out[j * out_ld + i] for row i, token j.
/// Q5_K's 5-bit quants keep the int16 sums within 8 x 2 x 31 x 128 = 63488: too many, so they
/// widen every four chunks.
LR_INLINE LR_TARGET_AVX2 void k45_group(const uint8_t *grp, int nsb, const uint8_t *a, size_t a_row_bytes,
                                        const ka_act *acts, int nb, float *out, size_t out_ld, const int NT,
                                        const int wtype) {
    const int five = wtype == LR_TYPE_Q5_K;
    const size_t bb = lr_x8_block_bytes(wtype);
    const size_t sco = lr_kx8_word(wtype, 0), qho = lr_kx8_word(wtype, 3), qso = lr_kx8_word(wtype, five ? 11 : 3);
    const __m256i nibble = _mm256_set1_epi8(0x0f), m6 = _mm256_set1_epi8(0x3f), m2 = _mm256_set1_epi8(0x03);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[KA_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nsb; b++) {
        const uint8_t *blk = grp + (size_t)b * bb;
        const __m256 d = halves(blk), dmin = halves(blk + 16);
        // lr_k4_scale_min for 8 rows at once (see kx8_avx512.c)
        const __m256i u0 = load32(blk + sco), u1 = load32(blk + sco + 32), u2 = load32(blk + sco + 64);
        const __m256i sc[2] = {_mm256_and_si256(u0, m6),
                               _mm256_or_si256(_mm256_and_si256(u2, nibble),
                                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u0, 6), m2), 4))};
        const __m256i mn[2] = {
            _mm256_and_si256(u1, m6),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), nibble),
                            _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u1, 6), m2), 4))};
        LR_UNROLL
        for (int s = 0; s < 8; s++) {
            const __m256 fsc = _mm256_mul_ps(d, lane_byte_u(sc[s / 4], s % 4));
            const __m256 fmn = _mm256_mul_ps(dmin, lane_byte_u(mn[s / 4], s % 4));
            __m256i q[8];
            LR_UNROLL
            for (int c = 0; c < 8; c++) {
                const __m256i v = load32(blk + qso + 32 * (size_t)(8 * (s / 2) + c));
                q[c] = _mm256_and_si256(s % 2 ? _mm256_srli_epi16(v, 4) : v, nibble);
                if (five) {  // bit s of qh word c's bytes to bit 4 (see kx8_avx512.c)
                    const __m256i hb = load32(blk + qho + 32 * (size_t)c);
                    const __m256i hs = s < 4 ? _mm256_slli_epi16(hb, 4 - s) : s == 4 ? hb : _mm256_srli_epi16(hb, s - 4);
                    q[c] = _mm256_or_si256(q[c], _mm256_and_si256(hs, _mm256_set1_epi8(0x10)));
                }
            }
            LR_UNROLL
            for (int j = 0; j < NT; j++) {
                const int8_t *aq = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[8 * b + s].qs;
                const ka_act *act = acts + (size_t)j * nb + 8 * b + s;
                __m256i p[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
                LR_UNROLL
                for (int c = 0; c < 8; c++) {
                    int32_t word;
                    memcpy(&word, aq + 4 * c, 4);
                    p[five ? c / 4 : 0] = _mm256_add_epi16(p[five ? c / 4 : 0], _mm256_maddubs_epi16(q[c], _mm256_set1_epi32(word)));
                }
                const __m256i isum = five ? _mm256_add_epi32(_mm256_madd_epi16(p[0], ones), _mm256_madd_epi16(p[1], ones))
                                          : _mm256_madd_epi16(p[0], ones);
                __m256 dav = _mm256_broadcast_ss(&act->da);
                LR_OPAQUE(dav);
                acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(fsc, dav), acc[j]);
                acc[j] = _mm256_fnmadd_ps(fmn, _mm256_broadcast_ss(&act->sa), acc[j]);
            }
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) _mm256_storeu_ps(out + (size_t)j * out_ld, acc[j]);
}

/// Q6_K: as q4k_group, with kx8_avx512.c's q6k_pair's walk over the quants.
LR_INLINE LR_TARGET_AVX2 void q6k_group(const uint8_t *grp, int nsb, const uint8_t *a, size_t a_row_bytes,
                                        const ka_act *acts, int nb, float *out, size_t out_ld, const int NT,
                                        const int wtype) {
    (void)wtype;
    const size_t bb = lr_x8_block_bytes(LR_TYPE_Q6_K);
    const __m256i nibble = _mm256_set1_epi8(0x0f), top = _mm256_set1_epi8(0x30), ones = _mm256_set1_epi16(1);
    __m256 acc[KA_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nsb; b++) {
        const uint8_t *blk = grp + (size_t)b * bb;
        const __m256 d = halves(blk);
        LR_UNROLL
        for (int B = 0; B < 8; B++) {
            const int h = B / 4, qq = B % 4;
            const __m256i sw = load32(blk + lr_kx8_word(LR_TYPE_Q6_K, 48 + B / 2));
            const __m256 f0 = _mm256_mul_ps(d, lane_byte_s(sw, (2 * B) % 4));
            const __m256 f1 = _mm256_mul_ps(d, lane_byte_s(sw, (2 * B + 1) % 4));
            __m256i q[8];
            LR_UNROLL
            for (int w = 0; w < 8; w++) {
                const __m256i l = load32(blk + lr_kx8_word(LR_TYPE_Q6_K, 16 * h + 8 * (qq % 2) + w));
                const __m256i hb = load32(blk + lr_kx8_word(LR_TYPE_Q6_K, 32 + 8 * h + w));
                const __m256i lo = _mm256_and_si256(qq < 2 ? l : _mm256_srli_epi16(l, 4), nibble);
                const __m256i hs = qq < 2 ? _mm256_slli_epi16(hb, 4 - 2 * qq) : qq == 2 ? hb : _mm256_srli_epi16(hb, 2);
                q[w] = _mm256_or_si256(lo, _mm256_and_si256(hs, top));
            }
            LR_UNROLL
            for (int j = 0; j < NT; j++) {
                const int8_t *ab = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[8 * b + B].qs;
                const ka_act *act = acts + (size_t)j * nb + 8 * b + B;
                __m256i pr[4];
                LR_UNROLL
                for (int w = 0; w < 8; w += 2) {
                    int32_t w0, w1;
                    memcpy(&w0, ab + 4 * w, 4);
                    memcpy(&w1, ab + 4 * w + 4, 4);
                    pr[w / 2] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(q[w], _mm256_set1_epi32(w0)),
                                                                   _mm256_maddubs_epi16(q[w + 1], _mm256_set1_epi32(w1))),
                                                  ones);
                }
                const __m256i i0 = _mm256_add_epi32(_mm256_add_epi32(pr[0], pr[1]), _mm256_set1_epi32(act->s0));
                const __m256i i1 = _mm256_add_epi32(_mm256_add_epi32(pr[2], pr[3]), _mm256_set1_epi32(act->s1));
                const __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), f1, _mm256_mul_ps(_mm256_cvtepi32_ps(i0), f0));
                __m256 dav = _mm256_broadcast_ss(&act->da);
                LR_OPAQUE(dav);
                acc[j] = _mm256_fmadd_ps(f, dav, acc[j]);
            }
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) _mm256_storeu_ps(out + (size_t)j * out_ld, acc[j]);
}

/// Q2_K and Q3_K: as q6k_group, with kx8_avx512.c's k23_group's walk over the quants (activation
/// block B = 4h + g: bits 2g of qs words 8h + w, Q3_K's bit B of hmask word w). Four chunks of
/// 3-bit quants sum to at most 4 x 2 x 7 x 128 = 7168 in int16 before they widen.
LR_INLINE LR_TARGET_AVX2 void k23_group(const uint8_t *grp, int nsb, const uint8_t *a, size_t a_row_bytes,
                                        const ka_act *acts, int nb, float *out, size_t out_ld, const int NT,
                                        const int wtype) {
    const int three = wtype == LR_TYPE_Q3_K;
    const size_t bb = lr_x8_block_bytes(wtype);
    const int qs_from = three ? 8 : 4;  // row word of qs[0]
    const __m256i m2 = _mm256_set1_epi8(0x03), b4 = _mm256_set1_epi8(0x04), ones = _mm256_set1_epi16(1);
    __m256 acc[KA_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nsb; b++) {
        const uint8_t *blk = grp + (size_t)b * bb;
        const __m256 d = halves(blk), dmin = three ? d : halves(blk + 16);
        __m256i sw[4];
        if (three) {
            lr_q3k_scales(load32(blk + lr_kx8_word(wtype, 24)), load32(blk + lr_kx8_word(wtype, 25)),
                          load32(blk + lr_kx8_word(wtype, 26)), sw);
        } else {
            LR_UNROLL
            for (int q = 0; q < 4; q++) sw[q] = load32(blk + lr_kx8_word(wtype, q));
        }
        LR_UNROLL
        for (int B = 0; B < 8; B++) {
            const int h = B / 4, gq = B % 4;
            __m256 f0, f1, m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
            if (three) {
                f0 = _mm256_mul_ps(d, lane_byte_s(sw[B / 2], (2 * B) % 4));
                f1 = _mm256_mul_ps(d, lane_byte_s(sw[B / 2], (2 * B + 1) % 4));
            } else {
                const __m256i n4 = _mm256_set1_epi32(0x0f);
                const __m256i x0 = _mm256_srli_epi32(sw[B / 2], 8 * ((2 * B) % 4)), x1 = _mm256_srli_epi32(sw[B / 2], 8 * ((2 * B + 1) % 4));
                f0 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(x0, n4)));
                f1 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(x1, n4)));
                m0 = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(x0, 4), n4)));
                m1 = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(x1, 4), n4)));
            }
            __m256i q[8];
            LR_UNROLL
            for (int w = 0; w < 8; w++) {
                const __m256i v = load32(blk + lr_kx8_word(wtype, qs_from + 8 * h + w));
                q[w] = _mm256_and_si256(gq ? _mm256_srli_epi16(v, 2 * gq) : v, m2);
                if (three) {  // bit B of hmask word w's bytes to bit 2
                    const __m256i hb = load32(blk + lr_kx8_word(wtype, w));
                    const __m256i hs = B < 2 ? _mm256_slli_epi16(hb, 2 - B) : B == 2 ? hb : _mm256_srli_epi16(hb, B - 2);
                    q[w] = _mm256_or_si256(q[w], _mm256_and_si256(hs, b4));
                }
            }
            LR_UNROLL
            for (int j = 0; j < NT; j++) {
                const int8_t *ab = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[8 * b + B].qs;
                const ka_act *act = acts + (size_t)j * nb + 8 * b + B;
                __m256i p16[2];
                LR_UNROLL
                for (int s = 0; s < 2; s++) {
                    __m256i acc16 = _mm256_setzero_si256();
                    LR_UNROLL
                    for (int w = 4 * s; w < 4 * s + 4; w++) {
                        int32_t word;
                        memcpy(&word, ab + 4 * w, 4);
                        acc16 = _mm256_add_epi16(acc16, _mm256_maddubs_epi16(q[w], _mm256_set1_epi32(word)));
                    }
                    p16[s] = _mm256_madd_epi16(acc16, ones);
                }
                if (three) {  // the quants' -4: -32 x the halves' sums, / 8
                    p16[0] = _mm256_add_epi32(p16[0], _mm256_set1_epi32(act->s0 / 8));
                    p16[1] = _mm256_add_epi32(p16[1], _mm256_set1_epi32(act->s1 / 8));
                }
                const __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p16[1]), f1, _mm256_mul_ps(_mm256_cvtepi32_ps(p16[0]), f0));
                __m256 dav = _mm256_broadcast_ss(&act->da);
                LR_OPAQUE(dav);
                acc[j] = _mm256_fmadd_ps(f, dav, acc[j]);
                if (!three) {
                    acc[j] = _mm256_fnmadd_ps(m0, _mm256_broadcast_ss(&act->ml), acc[j]);
                    acc[j] = _mm256_fnmadd_ps(m1, _mm256_broadcast_ss(&act->mh), acc[j]);
                }
            }
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) _mm256_storeu_ps(out + (size_t)j * out_ld, acc[j]);
}

#define KA_GROUP(KERNEL, WNAME, WTYPE, NT)                                                                                     \
    static __attribute__((noinline)) LR_TARGET_AVX2 void ka_##WNAME##_##NT(                                     \
        const uint8_t *grp, int nsb, const uint8_t *a, size_t a_row_bytes, const ka_act *acts, int nb, float *out, \
        size_t out_ld) {                                                                                         \
        KERNEL(grp, nsb, a, a_row_bytes, acts, nb, out, out_ld, NT, WTYPE);                                   \
    }
KA_GROUP(k45_group, q4k, LR_TYPE_Q4_K, 1)
KA_GROUP(k45_group, q4k, LR_TYPE_Q4_K, 2)
KA_GROUP(k45_group, q4k, LR_TYPE_Q4_K, 3)
KA_GROUP(k45_group, q5k, LR_TYPE_Q5_K, 1)
KA_GROUP(k45_group, q5k, LR_TYPE_Q5_K, 2)
KA_GROUP(k45_group, q5k, LR_TYPE_Q5_K, 3)
KA_GROUP(q6k_group, q6k, LR_TYPE_Q6_K, 1)
KA_GROUP(q6k_group, q6k, LR_TYPE_Q6_K, 2)
KA_GROUP(q6k_group, q6k, LR_TYPE_Q6_K, 3)
KA_GROUP(k23_group, q2k, LR_TYPE_Q2_K, 1)
KA_GROUP(k23_group, q2k, LR_TYPE_Q2_K, 2)
KA_GROUP(k23_group, q2k, LR_TYPE_Q2_K, 3)
KA_GROUP(k23_group, q3k, LR_TYPE_Q3_K, 1)
KA_GROUP(k23_group, q3k, LR_TYPE_Q3_K, 2)
KA_GROUP(k23_group, q3k, LR_TYPE_Q3_K, 3)

typedef void (*ka_group_fn)(const uint8_t *, int, const uint8_t *, size_t, const ka_act *, int, float *, size_t);
_Static_assert(KA_NT == 3, "group kernels are instantiated for 1..3 tokens");

enum { KA_STACK_BLOCKS = 2048 };  // k up to 65536 keeps its activation terms on the stack

int lr_gemm_kx8_avx2(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                     int n_tok, int k, float *out, size_t out_ld) {
    static const ka_group_fn q4k[KA_NT + 1] = {NULL, ka_q4k_1, ka_q4k_2, ka_q4k_3};
    static const ka_group_fn q5k[KA_NT + 1] = {NULL, ka_q5k_1, ka_q5k_2, ka_q5k_3};
    static const ka_group_fn q6k[KA_NT + 1] = {NULL, ka_q6k_1, ka_q6k_2, ka_q6k_3};
    static const ka_group_fn q2k[KA_NT + 1] = {NULL, ka_q2k_1, ka_q2k_2, ka_q2k_3};
    static const ka_group_fn q3k[KA_NT + 1] = {NULL, ka_q3k_1, ka_q3k_2, ka_q3k_3};
    const ka_group_fn *fns = wtype == LR_TYPE_Q4_K ? q4k : wtype == LR_TYPE_Q5_K ? q5k : wtype == LR_TYPE_Q6_K ? q6k
                           : wtype == LR_TYPE_Q2_K ? q2k : wtype == LR_TYPE_Q3_K ? q3k : NULL;
    if (fns == NULL || k < 0 || k % LR_QK_K != 0 || group_begin < 0 || group_end < group_begin || n_tok < 0) return -1;
    if (group_begin == group_end || n_tok == 0 || k == 0) return 0;
    lr_kernels_init();  // lr_f16_table

    const int nb = k / LR_QK, nsb = k / LR_QK_K;
    const size_t gb = lr_x8_group_bytes(wtype, k);
    ka_act stack_acts[KA_NT * KA_STACK_BLOCKS], *acts = stack_acts;
    if (nb > KA_STACK_BLOCKS) {
        acts = malloc((size_t)KA_NT * nb * sizeof *acts);
        if (!acts) return -1;
    }
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)a;
    for (int t = 0; t < n_tok; t += KA_NT) {
        const int nt = n_tok - t < KA_NT ? n_tok - t : KA_NT;
        const uint8_t *at = ab + (size_t)t * a_row_bytes;
        lr_kq_prep_acts(at, a_row_bytes, nt, nb, acts);
        for (int g = group_begin; g < group_end; g++)
            fns[nt](wb + (size_t)g * gb, nsb, at, a_row_bytes, acts, nb, out + (size_t)t * out_ld + 8 * (size_t)g, out_ld);
    }
    if (acts != stack_acts) free(acts);
    return 0;
}

#endif
