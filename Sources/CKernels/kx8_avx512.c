// AVX-512 VNNI mat-vec / mat-mul on x8 K-quants (Q2_K to Q6_K) with Q8_0 activations: the
// "avx512vnni" backend's gemm_kx8. The weights are the file's own super-blocks, only interleaved
// 8 rows at a time at load (the same bytes), so generation reads 4.5 / 5.5 bits a value instead
// of the 5 / 6 of the Q4_1 / Q5_1 copies they used to run as.
//
// One group (8 rows) at a time, its column read front to back in 64-byte loads: one stream. A
// zmm holds two consecutive 32-byte chunks (chunk w's 8 rows, then w + 1's), permuted into row
// pairs: lane 2i is row i's word of chunk w, lane 2i + 1 its word of w + 1. The activations then
// need no preparation: words c and c + 1 of a Q8_0 block are 8 consecutive bytes, broadcast as
// one 64-bit value. Each lane pair holds two partial sums of the same row and sub-block; they are
// added at the end of the row. The first version took two x8 groups per zmm (16 rows, one
// 32-bit broadcast), two streams a group apart: from memory it read Q4_K at 15-17.5 GB/s on one Zen 5
// core against 19-28 GB/s for this one (docs/measurements.md). Every token runs the same steps
// whatever the batch, so a sequence decoded alone equals it decoded in a batch to the bit.
//
// vpdpbusd's first operand is unsigned, and so are the quants (Q4_K's nibbles, Q5_K's 5 bits;
// Q6_K's 6-bit values before their -32, which comes off the int32 sum: it starts at -32 x the
// activations' sum, in one lane of each pair), so every product is exact and |sum| < 2^31.
//
// Scales: each super-block's 6-bit scales and mins (Q4_K, Q5_K) or int8 scales (Q6_K) are decoded
// for 8 rows at once from their words (one lane a row) and spread to both lanes of each row's
// pair (the mins' term to one lane only, as it is added once a row).
#include "avx2_int8.h"
#include "interleave_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Tokens sharing each decoded sub-block: 4 quant registers + 8 accumulators in flight.
enum { KV_NT = 8 };

typedef lr_kq_act kv_act;  // avx2_int8.h

/// Two consecutive 32-byte chunks at p (a 64-byte load, rows 0..7 of chunk w then of w + 1) as
/// row pairs: lane 2i row i's word of chunk w, lane 2i + 1 its word of chunk w + 1.
LR_INLINE LR_TARGET_AVX512VNNI __m512i load_rows2(const uint8_t *p) {
    const __m512i idx = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    return _mm512_permutexvar_epi32(idx, _mm512_loadu_si512((const void *)p));
}

/// Row i's float in lanes 2i and 2i + 1 (odd lanes zero when only_even).
LR_INLINE LR_TARGET_AVX512VNNI __m512 dup_rows(__m256 x, const int only_even) {
    const __m512i idx = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    return only_even ? _mm512_maskz_permutexvar_ps(0x5555, idx, _mm512_castps256_ps512(x))
                     : _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(x));
}

/// Activation words c and c + 1 (8 bytes at qs + 4c), broadcast to every lane pair.
LR_INLINE LR_TARGET_AVX512VNNI __m512i act_words2(const int8_t *qs, const int c) {
    int64_t v;
    memcpy(&v, qs + 4 * c, 8);
    return _mm512_set1_epi64(v);
}

LR_INLINE LR_TARGET_AVX512VNNI __m256 halves8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/// Byte `byte` of every lane, unsigned / signed, as floats.
LR_INLINE LR_TARGET_AVX512VNNI __m256 lane_byte_u(__m256i v, const int byte) {
    return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8 * byte), _mm256_set1_epi32(0xff)));
}
LR_INLINE LR_TARGET_AVX512VNNI __m256 lane_byte_s(__m256i v, const int byte) {
    return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * byte), 24));
}

/// The row sums: lane 2i plus lane 2i + 1, stored as 8 floats.
LR_INLINE LR_TARGET_AVX512VNNI void store_rows(float *out, __m512 acc) {
    const __m512 sum = _mm512_add_ps(acc, _mm512_castsi512_ps(_mm512_srli_epi64(_mm512_castps_si512(acc), 32)));
    _mm256_storeu_si256((__m256i *)out, _mm512_cvtepi64_epi32(_mm512_castps_si512(sum)));
}

/// Q4_K and Q5_K (wtype): one group (8 rows) against NT tokens, out[j * out_ld + i] for row i,
/// token j. Q5_K's fifth bits: bit s of qh byte l is value l of sub-block s, so qh word c serves
/// quant chunk c of every sub-block, shifted to bit 4.
LR_INLINE LR_TARGET_AVX512VNNI void k45_group(const uint8_t *g, int nsb, const uint8_t *a, size_t a_row_bytes,
                                              const kv_act *acts, int nb, float *out, size_t out_ld, const int NT,
                                              const int wtype) {
    const int five = wtype == LR_TYPE_Q5_K;
    const size_t bb = lr_x8_block_bytes(wtype);
    const size_t sco = lr_kx8_word(wtype, 0), qho = lr_kx8_word(wtype, 3), qso = lr_kx8_word(wtype, five ? 11 : 3);
    const __m512i nibble = _mm512_set1_epi8(0x0f);
    const __m256i n8 = _mm256_set1_epi8(0x0f), m6 = _mm256_set1_epi8(0x3f), m2 = _mm256_set1_epi8(0x03);
    __m512 acc[KV_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nsb; b++) {
        const uint8_t *p = g + (size_t)b * bb;
        const __m256 d = halves8(p), dmin = halves8(p + 16);
        // The 12 scale bytes of each row as three lanes (lr_k4_scale_min, 8 rows at once):
        // scales 0..3 and mins 0..3 in the low 6 bits of u0 and u1; 4..7 a nibble of u2 each,
        // their top bits in bits 6..7 of u0 (scales) and u1 (mins).
        const __m256i u0 = _mm256_loadu_si256((const __m256i *)(p + sco)),
                      u1 = _mm256_loadu_si256((const __m256i *)(p + sco + 32)),
                      u2 = _mm256_loadu_si256((const __m256i *)(p + sco + 64));
        const __m256i sc[2] = {_mm256_and_si256(u0, m6),
                               _mm256_or_si256(_mm256_and_si256(u2, n8),
                                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u0, 6), m2), 4))};
        const __m256i mn[2] = {
            _mm256_and_si256(u1, m6),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), n8),
                            _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u1, 6), m2), 4))};
        LR_UNROLL
        for (int s = 0; s < 8; s++) {
            // Sub-block s: the low (even s) or high nibbles of qs chunks 8(s/2)..8(s/2)+7, two
            // chunks a register; the min term goes in one lane of each row's pair only.
            const __m512 fsc = dup_rows(_mm256_mul_ps(d, lane_byte_u(sc[s / 4], s % 4)), 0);
            const __m512 fmn = dup_rows(_mm256_mul_ps(dmin, lane_byte_u(mn[s / 4], s % 4)), 1);
            __m512i q[4];
            LR_UNROLL
            for (int c = 0; c < 4; c++) {
                const __m512i v = load_rows2(p + qso + 32 * (size_t)(8 * (s / 2) + 2 * c));
                q[c] = _mm512_and_si512(s % 2 ? _mm512_srli_epi16(v, 4) : v, nibble);
                if (five) {
                    const __m512i hb = load_rows2(p + qho + 64 * (size_t)c);
                    const __m512i hs = s < 4 ? _mm512_slli_epi16(hb, 4 - s) : s == 4 ? hb : _mm512_srli_epi16(hb, s - 4);
                    q[c] = _mm512_or_si512(q[c], _mm512_and_si512(hs, _mm512_set1_epi8(0x10)));
                }
            }
            LR_UNROLL
            for (int j = 0; j < NT; j++) {
                const size_t blk = (size_t)8 * b + s;
                const int8_t *aq = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[blk].qs;
                const kv_act *x = acts + (size_t)j * nb + blk;
                __m512i isum = _mm512_setzero_si512();
                LR_UNROLL
                for (int c = 0; c < 4; c++) isum = _mm512_dpbusd_epi32(isum, q[c], act_words2(aq, 2 * c));
                acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(fsc, _mm512_set1_ps(x->da)), acc[j]);
                acc[j] = _mm512_fnmadd_ps(fmn, _mm512_set1_ps(x->sa), acc[j]);
            }
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) store_rows(out + (size_t)j * out_ld, acc[j]);
}

/// Q6_K: as k45_group, but a lane pair holds a row's two 16-value sub-blocks of one activation
/// block, lane 2i sub-block 2B and lane 2i + 1 sub-block 2B + 1, so each pair's scales differ and
/// one convert and one FMA a token serve both. Activation block B (values 32B..32B+31) lies in
/// half h = B / 4; quarter qq = B % 4 takes the low (qq < 2) or high nibbles of ql words
/// 16h + 8(qq % 2) + w and bits 2qq..2qq+1 of qh words 8h + w, w = 0..7; words 0..3 are
/// sub-block 2B, 4..7 2B + 1. The layout keeps words c and c + 4 side by side (lr_kx8_position),
/// and `a` holds each token's activation blocks with their words in the same order (0, 4, 1, 5,
/// ...: kv_q6k_acts), so one 64-bit broadcast serves both lanes. The int32 sums start at -32 x
/// their sub-block's activation sum (s0, s1: one 64-bit broadcast too).
LR_INLINE LR_TARGET_AVX512VNNI void q6k_group(const uint8_t *g, int nsb, const uint8_t *a, size_t a_row_bytes,
                                              const kv_act *acts, int nb, float *out, size_t out_ld, const int NT,
                                              const int wtype) {
    (void)wtype;
    const size_t bb = lr_x8_block_bytes(LR_TYPE_Q6_K);
    const __m512i nibble = _mm512_set1_epi8(0x0f), top = _mm512_set1_epi8(0x30);
    const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    // Scale bytes 2B % 4 (even lanes) and 2B % 4 + 1 (odd) of each row's scale word, to the top byte.
    const __m512i sh[2] = {_mm512_setr_epi32(24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16),
                           _mm512_setr_epi32(8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0)};
    __m512 acc[KV_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nsb; b++) {
        const uint8_t *p = g + (size_t)b * bb;
        const __m512 d = dup_rows(halves8(p), 0);
        LR_UNROLL
        for (int blk = 0; blk < 8; blk++) {
            const int h = blk / 4, qq = blk % 4;
            const __m256i sw = _mm256_loadu_si256((const __m256i *)(p + lr_kx8_word(LR_TYPE_Q6_K, 48 + blk / 2)));
            const __m512i sv = _mm512_permutexvar_epi32(dup, _mm512_castsi256_si512(sw));
            const __m512 fsc = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_sllv_epi32(sv, sh[blk % 2]), 24)));
            __m512i q[4];
            LR_UNROLL
            for (int c = 0; c < 4; c++) {  // lane 2i: row i's word c, lane 2i + 1: its word c + 4
                const __m512i l = load_rows2(p + lr_kx8_word(LR_TYPE_Q6_K, 16 * h + 8 * (qq % 2) + c)),
                              hb = load_rows2(p + lr_kx8_word(LR_TYPE_Q6_K, 32 + 8 * h + c));
                const __m512i lo = _mm512_and_si512(qq < 2 ? l : _mm512_srli_epi16(l, 4), nibble);
                // bits 2qq..2qq+1 to 4..5 (what a shift carries over from the next byte is masked off)
                const __m512i hs = qq < 2 ? _mm512_slli_epi16(hb, 4 - 2 * qq) : qq == 2 ? hb : _mm512_srli_epi16(hb, 2);
                q[c] = _mm512_or_si512(lo, _mm512_and_si512(hs, top));
            }
            LR_UNROLL
            for (int j = 0; j < NT; j++) {
                const size_t B = (size_t)8 * b + blk;
                const int8_t *aq = (const int8_t *)(a + (size_t)j * a_row_bytes) + 32 * B;
                const kv_act *x = acts + (size_t)j * nb + B;
                int64_t s01;
                memcpy(&s01, &x->s0, 8);  // s0 to the even lanes, s1 to the odd
                __m512i isum = _mm512_set1_epi64(s01);
                LR_UNROLL
                for (int c = 0; c < 4; c++) isum = _mm512_dpbusd_epi32(isum, q[c], act_words2(aq, 2 * c));
                acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(fsc, _mm512_set1_ps(x->da)), acc[j]);
            }
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) store_rows(out + (size_t)j * out_ld, acc[j]);
}

/// Q2_K and Q3_K: as q6k_group, a lane pair holds a row's two 16-value sub-blocks 2B and 2B + 1
/// of activation block B = 4h + g: bits 2g..2g+1 of qs words 8h + w (w = 0..3 sub-block 2B,
/// 4..7 sub-block 2B + 1; the layout keeps words w and w + 4 side by side), Q3_K's third bit at
/// bit B of hmask word w. The quants are unsigned (Q2_K 0..3; Q3_K 0..7, its -4 starting the
/// int32 sums at -4 x the activation sums). Each half's four 64-byte qs loads (and Q3_K's hmask
/// loads, once a super-block) serve its four activation blocks. Q2_K's mins come off in floats:
/// dmin x m per lane against the activation scale x its sub-block's sum (one 64-bit broadcast).
LR_INLINE LR_TARGET_AVX512VNNI void k23_group(const uint8_t *g, int nsb, const uint8_t *a, size_t a_row_bytes,
                                              const kv_act *acts, int nb, float *out, size_t out_ld, const int NT,
                                              const int wtype) {
    const int three = wtype == LR_TYPE_Q3_K;
    const size_t bb = lr_x8_block_bytes(wtype);
    const int qs_from = three ? 8 : 4;  // row word of qs[0]
    const __m512i m2 = _mm512_set1_epi8(0x03), b4 = _mm512_set1_epi8(0x04);
    const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    // Scale bytes 2B % 4 (even lanes) and 2B % 4 + 1 (odd): Q3_K's signed to the top byte (then
    // an arithmetic shift), Q2_K's unsigned to the bottom.
    const __m512i sh[2] = {_mm512_setr_epi32(24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16),
                           _mm512_setr_epi32(8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0)};
    const __m512i shr[2] = {_mm512_setr_epi32(0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8),
                            _mm512_setr_epi32(16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24, 16, 24)};
    __m512 acc[KV_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nsb; b++) {
        const uint8_t *p = g + (size_t)b * bb;
        const __m512 d = dup_rows(halves8(p), 0), dmin = three ? d : dup_rows(halves8(p + 16), 0);
        __m256i sw[4];
        if (three)
            lr_q3k_scales(_mm256_loadu_si256((const __m256i *)(p + lr_kx8_word(wtype, 24))),
                          _mm256_loadu_si256((const __m256i *)(p + lr_kx8_word(wtype, 25))),
                          _mm256_loadu_si256((const __m256i *)(p + lr_kx8_word(wtype, 26))), sw);
        else {
            LR_UNROLL
            for (int q = 0; q < 4; q++) sw[q] = _mm256_loadu_si256((const __m256i *)(p + lr_kx8_word(wtype, q)));
        }
        __m512i hm[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
        if (three) {
            LR_UNROLL
            for (int c = 0; c < 4; c++) hm[c] = load_rows2(p + lr_kx8_word(wtype, c));
        }
        LR_UNROLL
        for (int h = 0; h < 2; h++) {
            __m512i qv[4];
            LR_UNROLL
            for (int c = 0; c < 4; c++) qv[c] = load_rows2(p + lr_kx8_word(wtype, qs_from + 8 * h + c));
            LR_UNROLL
            for (int gq = 0; gq < 4; gq++) {
                const int B = 4 * h + gq;
                const __m512i sv = _mm512_permutexvar_epi32(dup, _mm512_castsi256_si512(sw[B / 2]));
                __m512 fsc, fmn = _mm512_setzero_ps();
                if (three) {
                    fsc = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_sllv_epi32(sv, sh[B % 2]), 24)));
                } else {
                    const __m512i x = _mm512_srlv_epi32(sv, shr[B % 2]);
                    fsc = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(x, _mm512_set1_epi32(0x0f))));
                    fmn = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(x, 4), _mm512_set1_epi32(0x0f))));
                }
                __m512i q[4];
                LR_UNROLL
                for (int c = 0; c < 4; c++) {
                    q[c] = _mm512_and_si512(gq ? _mm512_srli_epi16(qv[c], 2 * gq) : qv[c], m2);
                    if (three) {  // bit B of each hmask byte to bit 2 (what a shift carries in is masked off)
                        const __m512i hs = B < 2 ? _mm512_slli_epi16(hm[c], 2 - B) : B == 2 ? hm[c] : _mm512_srli_epi16(hm[c], B - 2);
                        q[c] = _mm512_or_si512(q[c], _mm512_and_si512(hs, b4));
                    }
                }
                LR_UNROLL
                for (int j = 0; j < NT; j++) {
                    const size_t Bg = (size_t)8 * b + B;
                    const int8_t *aq = (const int8_t *)(a + (size_t)j * a_row_bytes) + 32 * Bg;
                    const kv_act *x = acts + (size_t)j * nb + Bg;
                    int64_t pair;
                    __m512i isum = _mm512_setzero_si512();
                    if (three) {
                        memcpy(&pair, &x->s0, 8);  // -32 x the halves' sums: / 8 for Q3_K's -4
                        isum = _mm512_srai_epi32(_mm512_set1_epi64(pair), 3);
                    }
                    LR_UNROLL
                    for (int c = 0; c < 4; c++) isum = _mm512_dpbusd_epi32(isum, q[c], act_words2(aq, 2 * c));
                    acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(fsc, _mm512_set1_ps(x->da)), acc[j]);
                    if (!three) {
                        memcpy(&pair, &x->ml, 8);  // the activation scale x each half's sum
                        acc[j] = _mm512_fnmadd_ps(fmn, _mm512_castsi512_ps(_mm512_set1_epi64(pair)), acc[j]);
                    }
                }
            }
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) store_rows(out + (size_t)j * out_ld, acc[j]);
}

/// Each token's Q8_0 activation quants with every block's words in q6k_group's order (0, 4, 1,
/// 5, 2, 6, 3, 7): nt rows of 32 x nb bytes.
static LR_TARGET_AVX512VNNI void kv_q6k_acts(const uint8_t *a, size_t a_row_bytes, int nt, int nb, int8_t *out) {
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int t = 0; t < nt; t++) {
        const lr_block_q8_0 *ab = (const lr_block_q8_0 *)(a + (size_t)t * a_row_bytes);
        for (int b = 0; b < nb; b++)
            _mm256_storeu_si256((__m256i *)(out + ((size_t)t * nb + b) * 32),
                                _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)ab[b].qs), order));
    }
}

/// kv_WNAME_NT: one noinline function per type and token count (its own register allocation).
#define KV_GROUP(KERNEL, WNAME, WTYPE, NT)                                                                        \
    static __attribute__((noinline)) LR_TARGET_AVX512VNNI void kv_##WNAME##_##NT(                                 \
        const uint8_t *g, int nsb, const uint8_t *a, size_t a_row_bytes, const kv_act *acts, int nb, float *out,  \
        size_t out_ld) {                                                                                          \
        KERNEL(g, nsb, a, a_row_bytes, acts, nb, out, out_ld, NT, WTYPE);                                         \
    }
#define KV_TYPE(K, W, T) KV_GROUP(K, W, T, 1) KV_GROUP(K, W, T, 2) KV_GROUP(K, W, T, 3) KV_GROUP(K, W, T, 4) \
    KV_GROUP(K, W, T, 5) KV_GROUP(K, W, T, 6) KV_GROUP(K, W, T, 7) KV_GROUP(K, W, T, 8)
KV_TYPE(k45_group, q4k, LR_TYPE_Q4_K)
KV_TYPE(k45_group, q5k, LR_TYPE_Q5_K)
KV_TYPE(q6k_group, q6k, LR_TYPE_Q6_K)
KV_TYPE(k23_group, q2k, LR_TYPE_Q2_K)
KV_TYPE(k23_group, q3k, LR_TYPE_Q3_K)

typedef void (*kv_group_fn)(const uint8_t *, int, const uint8_t *, size_t, const kv_act *, int, float *, size_t);
_Static_assert(KV_NT == 8, "group kernels are instantiated for 1..8 tokens");
#define KV_FNS(WNAME) {NULL, kv_##WNAME##_1, kv_##WNAME##_2, kv_##WNAME##_3, kv_##WNAME##_4, kv_##WNAME##_5, kv_##WNAME##_6, kv_##WNAME##_7, kv_##WNAME##_8}

enum { KV_STACK_BLOCKS = 512 };  // k up to 16384 keeps its activation terms on the stack

int lr_gemm_kx8_avx512vnni(int wtype, const void *w, int group_begin, int group_end, const void *a,
                           size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld) {
    static const kv_group_fn q2k[] = KV_FNS(q2k), q3k[] = KV_FNS(q3k), q4k[] = KV_FNS(q4k), q5k[] = KV_FNS(q5k),
                             q6k[] = KV_FNS(q6k);
    const kv_group_fn *fns = wtype == LR_TYPE_Q4_K ? q4k : wtype == LR_TYPE_Q5_K ? q5k : wtype == LR_TYPE_Q6_K ? q6k
                           : wtype == LR_TYPE_Q2_K ? q2k : wtype == LR_TYPE_Q3_K ? q3k : NULL;
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
    // Q6_K's, Q2_K's and Q3_K's activation words in lane-pair order: a per-thread buffer, grown
    // once (KV_NT x k bytes).
    static _Thread_local int8_t *q6_buf;
    static _Thread_local size_t q6_cap;
    const size_t q6_bytes = (size_t)KV_NT * nb * 32;
    if (lr_kx8_lane_pairs(wtype) && q6_cap < q6_bytes) {
        int8_t *grown = realloc(q6_buf, q6_bytes);
        if (!grown) {
            if (acts != stack_acts) free(acts);
            return -1;
        }
        q6_buf = grown;
        q6_cap = q6_bytes;
    }
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)a;
    // Tokens outermost, a few at a time; a thread's row chunk stays in cache across token groups.
    for (int t = 0; t < n_tok; t += KV_NT) {
        const int nt = n_tok - t < KV_NT ? n_tok - t : KV_NT;
        const uint8_t *at = ab + (size_t)t * a_row_bytes;
        lr_kq_prep_acts(at, a_row_bytes, nt, nb, acts);
        size_t at_row = a_row_bytes;
        if (lr_kx8_lane_pairs(wtype)) {
            kv_q6k_acts(at, a_row_bytes, nt, nb, q6_buf);
            at = (const uint8_t *)q6_buf;
            at_row = (size_t)nb * 32;
        }
        float *o = out + (size_t)t * out_ld;
        for (int g = group_begin; g < group_end; g++)
            fns[nt](wb + (size_t)g * gb, nsb, at, at_row, acts, nb, o + 8 * (size_t)g, out_ld);
    }
    if (acts != stack_acts) free(acts);
    return 0;
}

#endif
