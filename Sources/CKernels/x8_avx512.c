// AVX-512 VNNI mat-vec / mat-mul on x8 (row-interleaved) Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and Q8_0
// weights with Q8_0 activations: the "avx512vnni" backend's gemm_x8, for generation and prompts.
//
// Why: vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and adds the four products to an
// int32 lane in one instruction, with no int16 stage to overflow. The AVX2 kernels (x8_avx2.c)
// spend maddubs + add + madd on the same work, and Q8_0 prompts there go through f32 FMAs.
//
// Operand order: vpdpbusd's first source is unsigned. Every weight is made unsigned (Q4 and Q5
// quants already are; Q8_0's bytes and IQ4_NL's levels get +128, an xor with 0x80 that is exact
// for -128..127) and the activations stay signed, so the products are exact. The offset each
// weight carries (8, 16 or 128 times the block's activation sum) comes off the int32 sum, which
// starts at -offset: |sum| <= 32 x 255 x 128 < 2^31.
//
// Layout: one zmm holds two x8 groups (16 rows, a 32-bit lane each: 4 consecutive values of a
// row), so one activation word, broadcast from memory ({1to16}), feeds 16 rows. A matrix's odd
// last group runs with its own bytes in both halves and keeps the lower half.
//
// One or two tokens (generation) run another kernel: one group at a time, a zmm holding the same
// quant chunk of two consecutive blocks, so the weights are one sequential stream. Reading two
// groups as two streams 4-13 KB apart halves the DRAM bandwidth one core gets (Zen 5, 49152 x 576
// Q8_0, one token, one thread: 17 GB/s against 35). The activation words each zmm meets (two blocks')
// are laid out once per call, for every group of the thread's rows.
//
// Compiled with per-function target attributes: the file links into binaries that run on
// AVX2-only x86, and dispatch.c only picks this backend after checking cpuid and XCR0.
#include "avx2_int8.h"
#include "interleave_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Tokens sharing each unpacked block column: 8 quant registers + 8 accumulators + 8 sums in flight
// (vpdpbusd's latency needs that many independent chains). Measured on Zen 5, 1536 x 576, 128
// tokens, one thread: 4 tokens 145-161 GMAC/s by type, 8 tokens 155-170.
enum { VN_NT = 8 };  // tokens sharing each unpacked block column (8 quant registers + NT accumulators)

// pair_kernel prefetches each of its two weight streams this many bytes ahead, into L2. With 3-8
// tokens its per-byte work is long enough that the hardware prefetchers fall behind on two
// streams: SmolLM2's layers and output, 4 tokens, 2 threads, kernels only (a bench outside the
// repo, alternating runs): 6.0-6.7 ms a step without; 4.5-4.9 prefetching 4-16 KB ahead into L1,
// where the kernel then stalls on the prefetches themselves (L1's miss buffers are full);
// 3.8-4.1 at 16 KB into L2 (32 KB: 3.9-4.4). 8 tokens 8.8 -> 5.5-6.0 ms. One token (the
// one-stream kernel below) got slower with it, so that kernel does not prefetch.
enum { VN_PREFETCH = 16384 };

/// Per token and block: the activation scale, minus the weights' offset times the int8 sum (the
/// int32 sum's start), and the scale times the sum (Q4_1, Q5_1: the mins' term).
typedef struct {
    float da;
    int32_t start;
    float sa;
} vn_act;

static LR_TARGET_AVX512VNNI void prep_acts(const uint8_t *a, size_t a_row_bytes, int nt, int nb, int wtype,
                                           vn_act *acts) {
    const int off = lr_traits(wtype).offset;  // 0 with mins: their term takes the sum's place
    for (int t = 0; t < nt; t++) {
        const lr_block_q8_0 *ab = (const lr_block_q8_0 *)(a + (size_t)t * a_row_bytes);
        vn_act *o = acts + (size_t)t * nb;
        for (int b = 0; b < nb; b++) {
            const float d = lr_f16_table[ab[b].d];
            const int32_t s = sum_i8x32(ab[b].qs);
            o[b].da = d;
            o[b].start = -off * s;
            o[b].sa = d * (float)s;
        }
    }
}

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

/// Adds Q5's fifth bit (0x10) to the bytes of quant chunk c whose value has it: byte k of lane i
/// is value 4c + k of row i (first = 0; 16 + 4c + k for the high nibbles, first = 2), whose bit
/// sits in byte first + c/2 of row i's qh lane. A shuffle copies that byte into the lane's four,
/// then each byte tests its own bit. Every 128-bit lane holds 4 rows of both, so one pattern serves.
LR_INLINE LR_TARGET_AVX512VNNI __m512i add_fifth_bits(__m512i q, __m512i qh, const int c, const int first) {
    const char b = (char)(first + (c >> 1));
    const __m512i pick = _mm512_broadcast_i32x4(_mm_setr_epi8(b, b, b, b, b + 4, b + 4, b + 4, b + 4, b + 8, b + 8,
                                                              b + 8, b + 8, b + 12, b + 12, b + 12, b + 12));
    const __m512i bit = _mm512_set1_epi32((int32_t)(0x08040201u << (4 * (c & 1))));
    const __mmask64 has = _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, pick), bit);
    return _mm512_mask_add_epi8(q, has, q, _mm512_set1_epi8(0x10));
}

/// Groups g0 and g1 (16 rows; g1 may repeat g0) against NT tokens: out[j * out_ld + i] for row i,
/// token j, all 16 rows when store16 else the first 8.
LR_INLINE LR_TARGET_AVX512VNNI void pair_kernel(const uint8_t *g0, const uint8_t *g1, int nb, const uint8_t *a,
                                                size_t a_row_bytes, const vn_act *acts, float *out, size_t out_ld,
                                                int store16, const int NT, const int wtype) {
    const size_t bb = lr_x8_block_bytes(wtype), qso = lr_x8_qs_offset(wtype), qho = lr_x8_qh_offset(wtype);
    const __m512i nibble = _mm512_set1_epi8(0x0f), flip = _mm512_set1_epi8((char)0x80);
    const __m512i levels =
        _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lr_iq4_values)), flip);
    __m512 acc[VN_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *b0 = g0 + (size_t)b * bb, *b1 = g1 + (size_t)b * bb;
        // Both streams' bytes VN_PREFETCH ahead (past the matrix's end a prefetch is a no-op).
        for (size_t o = 0; o < bb; o += 64) {
            _mm_prefetch((const char *)b0 + VN_PREFETCH + o, _MM_HINT_T1);
            _mm_prefetch((const char *)b1 + VN_PREFETCH + o, _MM_HINT_T1);
        }
        // q[c]: values 4c..4c+3 of each row, unsigned (chunks 4..7: Q4's high nibbles, Q8_0's
        // second half), so chunk c always meets activation word c.
        __m512i q[8];
        if (wtype == LR_TYPE_Q8_0) {
            LR_UNROLL
            for (int c = 0; c < 8; c++) q[c] = _mm512_xor_si512(load_pair(b0 + qso + 32 * c, b1 + qso + 32 * c), flip);
        } else {
            LR_UNROLL
            for (int c = 0; c < 4; c++) {
                const __m512i v = load_pair(b0 + qso + 32 * c, b1 + qso + 32 * c);
                q[c] = _mm512_and_si512(v, nibble);
                q[4 + c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
            }
            if (wtype == LR_TYPE_IQ4_NL) {
                LR_UNROLL
                for (int c = 0; c < 8; c++) q[c] = _mm512_shuffle_epi8(levels, q[c]);
            }
            if (lr_x8_has_qh(wtype)) {
                const __m512i qh = load_pair(b0 + qho, b1 + qho);
                LR_UNROLL
                for (int c = 0; c < 4; c++) {
                    q[c] = add_fifth_bits(q[c], qh, c, 0);
                    q[4 + c] = add_fifth_bits(q[4 + c], qh, c, 2);
                }
            }
        }
        const __m512 d = halves_pair(b0, b1);
        __m512 m = _mm512_setzero_ps();
        if (lr_x8_has_mins(wtype)) m = halves_pair(b0 + 16, b1 + 16);
        LR_UNROLL
        for (int j = 0; j < NT; j++) {
            const int8_t *aq = ((const lr_block_q8_0 *)(a + (size_t)j * a_row_bytes))[b].qs;
            const vn_act *act = acts + (size_t)j * nb + b;
            __m512i isum = _mm512_set1_epi32(act->start);
            LR_UNROLL
            for (int c = 0; c < 8; c++) {
                int32_t word;
                memcpy(&word, aq + 4 * c, 4);
                isum = _mm512_dpbusd_epi32(isum, q[c], _mm512_set1_epi32(word));
            }
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, _mm512_set1_ps(act->da)), acc[j]);
            if (lr_x8_has_mins(wtype)) acc[j] = _mm512_fmadd_ps(m, _mm512_set1_ps(act->sa), acc[j]);
        }
    }
    LR_UNROLL
    for (int j = 0; j < NT; j++) {
        if (store16) _mm512_storeu_ps(out + (size_t)j * out_ld, acc[j]);
        else _mm512_mask_storeu_ps(out + (size_t)j * out_ld, 0x00ff, acc[j]);
    }
}

/// x in lanes 0..7, y in lanes 8..15 (insertf32x8 is AVX512DQ, which this file does not assume).
LR_INLINE LR_TARGET_AVX512VNNI __m512 _mm512_insertf32x8_compat(float x, float y) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(x)), _mm256_castps_pd(_mm256_set1_ps(y)), 1));
}

/// A token's activations for blocks 2P (lanes 0..7) and 2P + 1 (lanes 8..15) of the one-stream
/// kernel: word c of each block's quants broadcast over its half, the int32 sums' starts, the
/// scales and (Q4_1, Q5_1) scale x sum. A missing block 2P + 1 (odd block count) is all zero.
typedef struct {
    __m512i w[8];
    __m512i start;
    __m512 da, sa;
} vn_block_pair;

static LR_TARGET_AVX512VNNI void prep_block_pairs(const uint8_t *a, size_t a_row_bytes, int nt, int nb,
                                                  const vn_act *acts, vn_block_pair *pairs) {
    const int np = (nb + 1) / 2;
    for (int t = 0; t < nt; t++) {
        const lr_block_q8_0 *ab = (const lr_block_q8_0 *)(a + (size_t)t * a_row_bytes);
        const vn_act *at = acts + (size_t)t * nb;
        for (int pi = 0; pi < np; pi++) {
            const int b0 = 2 * pi, whole = b0 + 1 < nb;
            const __m256i lo = _mm256_loadu_si256((const __m256i *)ab[b0].qs);
            const __m512i words = whole ? _mm512_inserti64x4(_mm512_castsi256_si512(lo),
                                                             _mm256_loadu_si256((const __m256i *)ab[b0 + 1].qs), 1)
                                        : _mm512_zextsi256_si512(lo);
            vn_block_pair *o = pairs + (size_t)t * np + pi;
            LR_UNROLL
            for (int c = 0; c < 8; c++)
                o->w[c] = _mm512_permutexvar_epi32(
                    _mm512_inserti64x4(_mm512_set1_epi32(c), _mm256_set1_epi32(8 + c), 1), words);
            const vn_act x = at[b0], y = whole ? at[b0 + 1] : (vn_act){0, 0, 0};
            o->start = _mm512_inserti64x4(_mm512_set1_epi32(x.start), _mm256_set1_epi32(y.start), 1);
            o->da = _mm512_insertf32x8_compat(x.da, y.da);
            o->sa = _mm512_insertf32x8_compat(x.sa, y.sa);
        }
    }
}

/// 32 bytes of block p (lanes 0..7) and of the next block (lanes 8..15), or zeros there.
LR_INLINE LR_TARGET_AVX512VNNI __m512i load_blocks(const uint8_t *p, size_t bb, const int whole) {
    const __m256i lo = _mm256_loadu_si256((const __m256i *)p);
    return whole ? _mm512_inserti64x4(_mm512_castsi256_si512(lo), _mm256_loadu_si256((const __m256i *)(p + bb)), 1)
                 : _mm512_zextsi256_si512(lo);
}

/// Eight halves of block p and eight of the next (or zeros) as 16 floats.
LR_INLINE LR_TARGET_AVX512VNNI __m512 halves_blocks(const uint8_t *p, size_t bb, const int whole) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)p);
    const __m256i h = whole ? _mm256_inserti128_si256(_mm256_castsi128_si256(lo), _mm_loadu_si128((const __m128i *)(p + bb)), 1)
                            : _mm256_zextsi128_si256(lo);
    return _mm512_cvtph_ps(h);
}

LR_INLINE LR_TARGET_AVX512VNNI __m256 lo8(__m512 v) { return _mm512_castps512_ps256(v); }
LR_INLINE LR_TARGET_AVX512VNNI __m256 hi8(__m512 v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/// Blocks 2P and 2P + 1 of one group against NT tokens, added into acc block by block in the
/// order pair_kernel adds them, so a sequence's result does not depend on how many tokens share
/// the mat-mul (batched decoding equals decoding alone, to the bit).
LR_INLINE LR_TARGET_AVX512VNNI void block_pair_step(const uint8_t *p, size_t bb, const vn_block_pair *pa, int np,
                                                    __m256 *acc, const int whole, const int NT, const int wtype) {
    const size_t qso = lr_x8_qs_offset(wtype), qho = lr_x8_qh_offset(wtype);
    const __m512i nibble = _mm512_set1_epi8(0x0f), flip = _mm512_set1_epi8((char)0x80);
    __m512i q[8];
    if (wtype == LR_TYPE_Q8_0) {
        LR_UNROLL
        for (int c = 0; c < 8; c++) q[c] = _mm512_xor_si512(load_blocks(p + qso + 32 * c, bb, whole), flip);
    } else {
        LR_UNROLL
        for (int c = 0; c < 4; c++) {
            const __m512i v = load_blocks(p + qso + 32 * c, bb, whole);
            q[c] = _mm512_and_si512(v, nibble);
            q[4 + c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
        }
        if (wtype == LR_TYPE_IQ4_NL) {
            const __m512i levels =
                _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lr_iq4_values)), flip);
            LR_UNROLL
            for (int c = 0; c < 8; c++) q[c] = _mm512_shuffle_epi8(levels, q[c]);
        }
        if (lr_x8_has_qh(wtype)) {
            const __m512i qh = load_blocks(p + qho, bb, whole);
            LR_UNROLL
            for (int c = 0; c < 4; c++) {
                q[c] = add_fifth_bits(q[c], qh, c, 0);
                q[4 + c] = add_fifth_bits(q[4 + c], qh, c, 2);
            }
        }
    }
    const __m512 d = halves_blocks(p, bb, whole);
    __m512 m = _mm512_setzero_ps();
    if (lr_x8_has_mins(wtype)) m = halves_blocks(p + 16, bb, whole);
    LR_UNROLL
    for (int j = 0; j < NT; j++) {
        const vn_block_pair *a = pa + (size_t)j * np;
        __m512i isum = a->start;
        LR_UNROLL
        for (int c = 0; c < 8; c++) isum = _mm512_dpbusd_epi32(isum, q[c], a->w[c]);
        const __m512 f = _mm512_cvtepi32_ps(isum), dd = _mm512_mul_ps(d, a->da);
        acc[j] = _mm256_fmadd_ps(lo8(f), lo8(dd), acc[j]);
        if (lr_x8_has_mins(wtype)) acc[j] = _mm256_fmadd_ps(lo8(m), lo8(a->sa), acc[j]);
        if (whole) {
            acc[j] = _mm256_fmadd_ps(hi8(f), hi8(dd), acc[j]);
            if (lr_x8_has_mins(wtype)) acc[j] = _mm256_fmadd_ps(hi8(m), hi8(a->sa), acc[j]);
        }
    }
}

// Up to this many tokens, the one-stream group kernel, while its block-pair activations fit in
// VN_GROUP_L1_BYTES (they are read again for every group: out of L1 they cost more than the
// second stream). From 3 tokens on, pair_kernel's broadcast activations and prefetched streams
// win (SmolLM2, 4 sequences decoding together, 2 threads: Q4_1 412-470 t/s against 359-407
// before pair_kernel prefetched). Kernels only, 2 tokens: FFN down (k = 1536, 33.8 KB of pairs)
// 1.34 ms a step in the group kernel, 0.75 in pair_kernel; the other matrices favour the group kernel.
enum { VN_GROUP_NT = 2, VN_GROUP_L1_BYTES = 24 << 10 };

/// One group (8 rows) against NT tokens, reading its bytes as one sequential stream: each zmm holds
/// a quant chunk of two consecutive blocks, so 16 lanes work as in pair_kernel without a second
/// stream. out[j * out_ld + i].
LR_INLINE LR_TARGET_AVX512VNNI void group_kernel(const uint8_t *g, int nb, const vn_block_pair *pairs, float *out,
                                                 size_t out_ld, const int NT, const int wtype) {
    const size_t bb = lr_x8_block_bytes(wtype);
    const int np = (nb + 1) / 2;
    __m256 acc[VN_GROUP_NT];
    LR_UNROLL
    for (int j = 0; j < NT; j++) acc[j] = _mm256_setzero_ps();
    for (int pi = 0; pi < nb / 2; pi++) block_pair_step(g + (size_t)2 * pi * bb, bb, pairs + pi, np, acc, 1, NT, wtype);
    if (nb % 2) block_pair_step(g + (size_t)(nb - 1) * bb, bb, pairs + np - 1, np, acc, 0, NT, wtype);
    LR_UNROLL
    for (int j = 0; j < NT; j++) _mm256_storeu_ps(out + (size_t)j * out_ld, acc[j]);
}

#define VN_GROUP(WNAME, WTYPE, NT)                                                                                 \
    static __attribute__((noinline)) LR_TARGET_AVX512VNNI void vg_##WNAME##_##NT(                                  \
        const uint8_t *g, int nb, const vn_block_pair *pairs, float *out, size_t out_ld) {                         \
        group_kernel(g, nb, pairs, out, out_ld, NT, WTYPE);                                                        \
    }
#define VG_TYPE(WNAME, WTYPE) VN_GROUP(WNAME, WTYPE, 1) VN_GROUP(WNAME, WTYPE, 2)
VG_TYPE(q4_0, LR_TYPE_Q4_0)
VG_TYPE(q4_1, LR_TYPE_Q4_1)
VG_TYPE(q5_0, LR_TYPE_Q5_0)
VG_TYPE(q5_1, LR_TYPE_Q5_1)
VG_TYPE(q8_0, LR_TYPE_Q8_0)
VG_TYPE(iq4_nl, LR_TYPE_IQ4_NL)

typedef void (*vn_group_fn)(const uint8_t *, int, const vn_block_pair *, float *, size_t);
_Static_assert(VN_GROUP_NT == 2, "group kernels are instantiated for 1..2 tokens");
#define VG_FNS(WNAME) {NULL, vg_##WNAME##_1, vg_##WNAME##_2}

/// The calling thread's buffer of block-pair activations, grown as needed (a call runs hundreds
/// of times per generated token: no allocation per call once it is large enough).
static vn_block_pair *block_pairs_buffer(size_t count) {
    static _Thread_local vn_block_pair *buf;
    static _Thread_local size_t cap;
    if (count > cap) {
        free(buf);
        buf = aligned_alloc(64, count * sizeof(vn_block_pair));
        cap = buf ? count : 0;
    }
    return buf;
}

/// vn_WNAME_NT: one noinline function per type and token count (its own register allocation).
#define VN_PAIR(WNAME, WTYPE, NT)                                                                                  \
    static __attribute__((noinline)) LR_TARGET_AVX512VNNI void vn_##WNAME##_##NT(                                   \
        const uint8_t *g0, const uint8_t *g1, int nb, const uint8_t *a, size_t a_row_bytes, const vn_act *acts,    \
        float *out, size_t out_ld, int store16) {                                                                  \
        pair_kernel(g0, g1, nb, a, a_row_bytes, acts, out, out_ld, store16, NT, WTYPE);                            \
    }
#define VN_TYPE(WNAME, WTYPE) VN_PAIR(WNAME, WTYPE, 1) VN_PAIR(WNAME, WTYPE, 2) VN_PAIR(WNAME, WTYPE, 3) VN_PAIR(WNAME, WTYPE, 4) \
    VN_PAIR(WNAME, WTYPE, 5) VN_PAIR(WNAME, WTYPE, 6) VN_PAIR(WNAME, WTYPE, 7) VN_PAIR(WNAME, WTYPE, 8)
VN_TYPE(q4_0, LR_TYPE_Q4_0)
VN_TYPE(q4_1, LR_TYPE_Q4_1)
VN_TYPE(q5_0, LR_TYPE_Q5_0)
VN_TYPE(q5_1, LR_TYPE_Q5_1)
VN_TYPE(q8_0, LR_TYPE_Q8_0)
VN_TYPE(iq4_nl, LR_TYPE_IQ4_NL)

typedef void (*vn_pair_fn)(const uint8_t *, const uint8_t *, int, const uint8_t *, size_t, const vn_act *, float *,
                           size_t, int);
_Static_assert(VN_NT == 8, "pair kernels are instantiated for 1..8 tokens");
#define VN_FNS(WNAME) {NULL, vn_##WNAME##_1, vn_##WNAME##_2, vn_##WNAME##_3, vn_##WNAME##_4, vn_##WNAME##_5, vn_##WNAME##_6, vn_##WNAME##_7, vn_##WNAME##_8}

enum { VN_STACK_BLOCKS = 512 };  // k up to 16384 keeps its activation terms on the stack

int lr_gemm_q8_x8_avx512vnni(int wtype, const void *w, int group_begin, int group_end, const void *a,
                             size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld) {
    static const vn_pair_fn q4_0[] = VN_FNS(q4_0), q4_1[] = VN_FNS(q4_1), q5_0[] = VN_FNS(q5_0),
                            q5_1[] = VN_FNS(q5_1), q8_0[] = VN_FNS(q8_0), iq4_nl[] = VN_FNS(iq4_nl);
    static const vn_group_fn gq4_0[] = VG_FNS(q4_0), gq4_1[] = VG_FNS(q4_1), gq5_0[] = VG_FNS(q5_0),
                             gq5_1[] = VG_FNS(q5_1), gq8_0[] = VG_FNS(q8_0), giq4_nl[] = VG_FNS(iq4_nl);
    const vn_pair_fn *fns = wtype == LR_TYPE_Q4_0     ? q4_0
                            : wtype == LR_TYPE_Q4_1   ? q4_1
                            : wtype == LR_TYPE_Q5_0   ? q5_0
                            : wtype == LR_TYPE_Q5_1   ? q5_1
                            : wtype == LR_TYPE_Q8_0   ? q8_0
                            : wtype == LR_TYPE_IQ4_NL ? iq4_nl
                                                      : NULL;
    const vn_group_fn *gfns = wtype == LR_TYPE_Q4_0     ? gq4_0
                              : wtype == LR_TYPE_Q4_1   ? gq4_1
                              : wtype == LR_TYPE_Q5_0   ? gq5_0
                              : wtype == LR_TYPE_Q5_1   ? gq5_1
                              : wtype == LR_TYPE_Q8_0   ? gq8_0
                              : wtype == LR_TYPE_IQ4_NL ? giq4_nl
                                                        : NULL;
    if (fns == NULL || k < 0 || k % LR_QK != 0 || group_begin < 0 || group_end < group_begin || n_tok < 0) return -1;
    if (group_begin == group_end || n_tok == 0 || k == 0) return 0;
    lr_kernels_init();  // lr_f16_table

    const int nb = k / LR_QK;
    const size_t gb = lr_x8_group_bytes(wtype, k);
    vn_act stack_acts[VN_NT * VN_STACK_BLOCKS], *acts = stack_acts;
    if (nb > VN_STACK_BLOCKS) {
        acts = malloc((size_t)VN_NT * nb * sizeof *acts);
        if (!acts) return -1;
    }
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)a;
    // Tokens outermost, a few at a time; the groups of a thread's row chunk (tens of KB) stay in
    // cache while the token groups pass over them.
    for (int t = 0; t < n_tok; t += VN_NT) {
        const int nt = n_tok - t < VN_NT ? n_tok - t : VN_NT;
        const uint8_t *at = ab + (size_t)t * a_row_bytes;
        prep_acts(at, a_row_bytes, nt, nb, wtype, acts);
        float *o = out + (size_t)t * out_ld;
        const size_t npairs = (size_t)nt * ((nb + 1) / 2);
        const int grouped = nt == 1 || (nt <= VN_GROUP_NT && npairs * sizeof(vn_block_pair) <= VN_GROUP_L1_BYTES);
        vn_block_pair *pairs = grouped ? block_pairs_buffer(npairs) : NULL;
        if (pairs != NULL) {
            prep_block_pairs(at, a_row_bytes, nt, nb, acts, pairs);
            for (int g = group_begin; g < group_end; g++) gfns[nt](wb + (size_t)g * gb, nb, pairs, o + 8 * (size_t)g, out_ld);
            continue;
        }
        for (int g = group_begin; g < group_end; g += 2) {
            const int two = g + 1 < group_end;
            const uint8_t *p0 = wb + (size_t)g * gb;
            fns[nt](p0, two ? p0 + gb : p0, nb, at, a_row_bytes, acts, o + 8 * (size_t)g, out_ld, two);
        }
    }
    if (acts != stack_acts) free(acts);
    return 0;
}

#endif
