// Batched mat-mul with f32 activations for AVX2: weights dequantized to f32 a panel at a time,
// then an FMA microkernel.
//
// Why a second path: on AVX2 without VNNI an int8 block pair costs sign + maddubs + madd + cvt +
// fma (five vector ops for 32 multiply-adds, ~3.6 cycles measured on Zen 2 with its loads),
// while an f32 FMA does 8 multiply-adds and two issue per cycle. Once enough tokens share each
// dequantized weight (prompt processing, perplexity, the pruner's calibration passes), the f32
// path does the same work ~1.6x faster. Single tokens (generation) stay on the int8 mat-vec,
// which reads a quarter of the bytes.
//
// Layout: a panel holds PR = 16 rows of W for KC columns, stored [k][16] so that one k step is
// two vector loads. The microkernel keeps a PT x 16 block of outputs (6 tokens x 16 rows) in
// twelve accumulators and broadcasts each token's activation.
#include "gemm_tiling.h"
#include "interleave_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { PR = 16, PT = 6, KC = 256 };

/// IQ4_NL's levels for 8 nibbles (int32 lanes 0..15): two 8-entry permutes and a blend.
LR_INLINE LR_TARGET_AVX2 __m256 iq4_levels(__m256i idx) {
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)lr_iq4_values)));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(lr_iq4_values + 8))));
    const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx), upper);
}

/// 8 dequantized values (elements e..e+7 of the block at blk) of a Q8_0, Q4_0, Q4_1, Q5_0, Q5_1
/// or IQ4_NL row.
LR_INLINE LR_TARGET_AVX2 __m256 dequant8(const uint8_t *blk, int e, const int wtype) {
    const __m256 d = _mm256_set1_ps(lr_f16_table[lr_load_u16(blk)]);
    if (wtype == LR_TYPE_Q8_0) {
        const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + e)));
        return _mm256_mul_ps(d, _mm256_cvtepi32_ps(q));
    }
    // Q4: byte j of qs holds element j (low nibble) and element j + 16 (high nibble).
    const uint8_t *qs = blk + lr_x8_row_qs_offset(wtype);
    __m128i bytes = _mm_loadl_epi64((const __m128i *)(qs + (e & 15)));
    if (e >= 16) bytes = _mm_srli_epi16(bytes, 4);
    __m256i nibbles = _mm256_cvtepu8_epi32(_mm_and_si128(bytes, _mm_set1_epi8(0x0f)));
    if (lr_x8_has_qh(wtype)) {
        // Element i's fifth bit is bit i of qh: lane l takes bit e + l.
        uint32_t qh;
        memcpy(&qh, blk + lr_x8_row_qh_offset(wtype), 4);
        const __m256i bits = _mm256_srlv_epi32(_mm256_set1_epi32((int32_t)(qh >> e)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        nibbles = _mm256_or_si256(nibbles, _mm256_slli_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(1)), 4));
        if (wtype == LR_TYPE_Q5_0) return _mm256_mul_ps(d, _mm256_sub_ps(_mm256_cvtepi32_ps(nibbles), _mm256_set1_ps(16.0f)));
    }
    if (wtype == LR_TYPE_IQ4_NL) return _mm256_mul_ps(d, iq4_levels(nibbles));
    const __m256 q = _mm256_cvtepi32_ps(nibbles);
    if (wtype == LR_TYPE_Q4_0) return _mm256_mul_ps(d, _mm256_sub_ps(q, _mm256_set1_ps(8.0f)));
    return _mm256_fmadd_ps(d, q, _mm256_set1_ps(lr_f16_table[lr_load_u16(blk + 2)]));
}

/// In-register transpose of eight 8-float rows.
LR_INLINE LR_TARGET_AVX2 void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/// Dequantizes rows [0, nr) (nr <= 16; missing rows are zeros) of blocks [b0, b0 + nblk) into
/// panel[k][16].
LR_INLINE LR_TARGET_AVX2 void pack_panel(const uint8_t *w, size_t w_row_bytes, int nr, int b0, int nblk,
                                         float *panel, const int wtype) {
    const size_t bb = lr_weight_block_bytes(wtype);
    for (int g = 0; g < PR; g += 8) {
        for (int b = 0; b < nblk; b++) {
            for (int e = 0; e < LR_QK; e += 8) {
                __m256 r[8];
                LR_UNROLL
                for (int i = 0; i < 8; i++) {
                    r[i] = g + i < nr ? dequant8(w + (size_t)(g + i) * w_row_bytes + (size_t)(b0 + b) * bb, e, wtype)
                                      : _mm256_setzero_ps();
                }
                transpose8(r);
                float *dst = panel + (size_t)(b * LR_QK + e) * PR + g;
                LR_UNROLL
                for (int x = 0; x < 8; x++) _mm256_store_ps(dst + (size_t)x * PR, r[x]);
            }
        }
    }
}

/// out[t][0..16) (+)= panel . a[t] for nt (constant, 1..PT) tokens over kc columns.
LR_INLINE LR_TARGET_AVX2 void micro(const float *panel, int kc, const float *a, size_t a_ld, float *out,
                                    size_t out_ld, int nr, int accumulate, const int nt) {
    __m256 c[PT][2];
    LR_UNROLL
    for (int j = 0; j < nt; j++) c[j][0] = c[j][1] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_load_ps(panel + (size_t)k * PR), w1 = _mm256_load_ps(panel + (size_t)k * PR + 8);
        LR_UNROLL
        for (int j = 0; j < nt; j++) {
            const __m256 av = _mm256_broadcast_ss(a + (size_t)j * a_ld + k);
            c[j][0] = _mm256_fmadd_ps(av, w0, c[j][0]);
            c[j][1] = _mm256_fmadd_ps(av, w1, c[j][1]);
        }
    }
    LR_UNROLL
    for (int j = 0; j < nt; j++) {
        float *o = out + (size_t)j * out_ld;
        if (nr == PR) {
            if (accumulate) {
                c[j][0] = _mm256_add_ps(c[j][0], _mm256_loadu_ps(o));
                c[j][1] = _mm256_add_ps(c[j][1], _mm256_loadu_ps(o + 8));
            }
            _mm256_storeu_ps(o, c[j][0]);
            _mm256_storeu_ps(o + 8, c[j][1]);
        } else {
            float tmp[PR];
            _mm256_storeu_ps(tmp, c[j][0]);
            _mm256_storeu_ps(tmp + 8, c[j][1]);
            for (int i = 0; i < nr; i++) o[i] = accumulate ? o[i] + tmp[i] : tmp[i];
        }
    }
}

// One function per token count, so each keeps its accumulators in registers.
#define MICRO(NT)                                                                                          \
    static __attribute__((noinline)) LR_TARGET_AVX2 void micro_##NT(const float *panel, int kc, const float *a, \
                                                                  size_t a_ld, float *out, size_t out_ld,  \
                                                                  int nr, int accumulate) {                \
        micro(panel, kc, a, a_ld, out, out_ld, nr, accumulate, NT);                                        \
    }
MICRO(1)
MICRO(2)
MICRO(3)
MICRO(4)
MICRO(5)
MICRO(6)

typedef void (*micro_fn)(const float *, int, const float *, size_t, float *, size_t, int, int);
static const micro_fn micros[PT + 1] = {NULL, micro_1, micro_2, micro_3, micro_4, micro_5, micro_6};

#define PACK(WNAME, WTYPE)                                                                                 \
    static __attribute__((noinline)) LR_TARGET_AVX2 void pack_##WNAME(const uint8_t *w, size_t w_row_bytes, \
                                                                    int nr, int b0, int nblk, float *panel) { \
        pack_panel(w, w_row_bytes, nr, b0, nblk, panel, WTYPE);                                            \
    }
PACK(q8_0, LR_TYPE_Q8_0)
PACK(q4_0, LR_TYPE_Q4_0)
PACK(q4_1, LR_TYPE_Q4_1)
PACK(iq4_nl, LR_TYPE_IQ4_NL)
PACK(q5_0, LR_TYPE_Q5_0)
PACK(q5_1, LR_TYPE_Q5_1)

int lr_gemm_f32a_avx2(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end, const float *a,
                      size_t a_ld, int n_tok, int k, float *out, size_t out_ld) {
    void (*pack)(const uint8_t *, size_t, int, int, int, float *);
    switch (wtype) {
    case LR_TYPE_Q8_0: pack = pack_q8_0; break;
    case LR_TYPE_Q4_0: pack = pack_q4_0; break;
    case LR_TYPE_Q4_1: pack = pack_q4_1; break;
    case LR_TYPE_IQ4_NL: pack = pack_iq4_nl; break;
    case LR_TYPE_Q5_0: pack = pack_q5_0; break;
    case LR_TYPE_Q5_1: pack = pack_q5_1; break;
    default: return -1;
    }
    if (k < 0 || k % LR_QK != 0 || row_begin < 0 || row_end < row_begin || n_tok < 0) return -1;
    if (row_begin == row_end || n_tok == 0 || k == 0) return 0;
    lr_kernels_init();  // lr_f16_table

    _Alignas(64) float panel[KC * PR];  // 16 KiB
    const uint8_t *wb = (const uint8_t *)w;
    // k blocks outermost: a block of every token's activations (n_tok x KC floats) stays in
    // cache while the row panels stream past it.
    for (int k0 = 0; k0 < k; k0 += KC) {
        const int kc = k - k0 < KC ? k - k0 : KC;
        for (int r = row_begin; r < row_end; r += PR) {
            const int nr = row_end - r < PR ? row_end - r : PR;
            pack(wb + (size_t)r * w_row_bytes, w_row_bytes, nr, k0 / LR_QK, kc / LR_QK, panel);
            for (int t = 0; t < n_tok; t += PT) {
                const int nt = n_tok - t < PT ? n_tok - t : PT;
                micros[nt](panel, kc, a + (size_t)t * a_ld + k0, a_ld, out + (size_t)t * out_ld + r, out_ld, nr, k0 > 0);
            }
        }
    }
    return 0;
}

/// 8 nibbles (int32 lanes) as values: d * level for IQ4_NL, d * q + off for Q4 (off = -8d or m).
LR_INLINE LR_TARGET_AVX2 __m256 nibble_values(__m256i q, __m256 d, __m256 off, const int wtype) {
    if (wtype == LR_TYPE_IQ4_NL) return _mm256_mul_ps(iq4_levels(q), d);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(q), d, off);
}

/// Dequantizes groups [g, g + ng) (ng 1 or 2, so up to 16 rows) of blocks [b0, b0 + nblk) of x8
/// weights into panel[k][16]. No transpose: one 32-bit lane of a quant chunk is one row, so
/// shifting a chunk by a byte lines up one column of all 8 rows.
LR_INLINE LR_TARGET_AVX2 void pack_panel_x8(const uint8_t *w, size_t group_bytes, int g, int ng, int b0, int nblk,
                                            float *panel, const int wtype) {
    const size_t bb = lr_x8_block_bytes(wtype);
    const __m256i mask = _mm256_set1_epi32(0x0f);
    for (int h = 0; h < 2; h++) {
        for (int b = 0; b < nblk; b++) {
            float *dst = panel + (size_t)b * LR_QK * PR + 8 * h;
            if (h >= ng) {
                for (int e = 0; e < LR_QK; e++) _mm256_store_ps(dst + (size_t)e * PR, _mm256_setzero_ps());
                continue;
            }
            const uint8_t *blk = w + (size_t)(g + h) * group_bytes + (size_t)(b0 + b) * bb;
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
            if (wtype == LR_TYPE_Q8_0) {
                // Byte j of each lane, sign-extended: shift it to the top, then arithmetically down.
                const uint8_t *qs = blk + lr_x8_qs_offset(wtype);
                LR_UNROLL
                for (int c = 0; c < 8; c++) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                    LR_UNROLL
                    for (int j = 0; j < 4; j++) {
                        const __m256i q = _mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * j), 24);
                        _mm256_store_ps(dst + (size_t)(4 * c + j) * PR, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
                    }
                }
                continue;
            }
            const __m256 off = lr_x8_has_mins(wtype) ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)))
                                                     : _mm256_mul_ps(d, _mm256_set1_ps(wtype == LR_TYPE_Q5_0 ? -16.0f : -8.0f));
            const uint8_t *qs = blk + lr_x8_qs_offset(wtype);
            // Q5: lane i of qh holds row i's fifth bits, bit v for value v.
            const __m256i qh = lr_x8_has_qh(wtype) ? _mm256_loadu_si256((const __m256i *)(blk + lr_x8_qh_offset(wtype)))
                                                     : _mm256_setzero_si256();
            const __m256i fifth = _mm256_set1_epi32(0x10);
            LR_UNROLL
            for (int c = 0; c < 4; c++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                LR_UNROLL
                for (int j = 0; j < 4; j++) {
                    __m256i lo = _mm256_and_si256(_mm256_srli_epi32(v, 8 * j), mask);
                    __m256i hi = _mm256_and_si256(_mm256_srli_epi32(v, 8 * j + 4), mask);
                    if (lr_x8_has_qh(wtype)) {
                        // Bit 4c + j (16 + 4c + j) moved to bit 4.
                        const __m256i blo = 4 * c + j >= 4 ? _mm256_srli_epi32(qh, 4 * c + j - 4) : _mm256_slli_epi32(qh, 4 - j);
                        lo = _mm256_or_si256(lo, _mm256_and_si256(blo, fifth));
                        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_srli_epi32(qh, 12 + 4 * c + j), fifth));
                    }
                    _mm256_store_ps(dst + (size_t)(4 * c + j) * PR, nibble_values(lo, d, off, wtype));
                    _mm256_store_ps(dst + (size_t)(16 + 4 * c + j) * PR, nibble_values(hi, d, off, wtype));
                }
            }
        }
    }
}

#define PACK_X8(WNAME, WTYPE)                                                                               \
    static __attribute__((noinline)) LR_TARGET_AVX2 void pack_x8_##WNAME(const uint8_t *w, size_t gb, int g, int ng, \
                                                                       int b0, int nblk, float *panel) {         \
        pack_panel_x8(w, gb, g, ng, b0, nblk, panel, WTYPE);                                                     \
    }
PACK_X8(q8_0, LR_TYPE_Q8_0)
PACK_X8(q4_0, LR_TYPE_Q4_0)
PACK_X8(q4_1, LR_TYPE_Q4_1)
PACK_X8(iq4_nl, LR_TYPE_IQ4_NL)
PACK_X8(q5_0, LR_TYPE_Q5_0)
PACK_X8(q5_1, LR_TYPE_Q5_1)

int lr_gemm_f32a_x8_avx2(int wtype, const void *w, int group_begin, int group_end, const float *a, size_t a_ld,
                         int n_tok, int k, float *out, size_t out_ld) {
    void (*pack)(const uint8_t *, size_t, int, int, int, int, float *);
    switch (wtype) {
    case LR_TYPE_Q8_0: pack = pack_x8_q8_0; break;
    case LR_TYPE_Q4_0: pack = pack_x8_q4_0; break;
    case LR_TYPE_Q4_1: pack = pack_x8_q4_1; break;
    case LR_TYPE_IQ4_NL: pack = pack_x8_iq4_nl; break;
    case LR_TYPE_Q5_0: pack = pack_x8_q5_0; break;
    case LR_TYPE_Q5_1: pack = pack_x8_q5_1; break;
    default: return -1;
    }
    if (k < 0 || k % LR_QK != 0 || group_begin < 0 || group_end < group_begin || n_tok < 0) return -1;
    if (group_begin == group_end || n_tok == 0 || k == 0) return 0;
    const size_t gb = lr_x8_group_bytes(wtype, k);

    _Alignas(64) float panel[KC * PR];
    const uint8_t *wb = (const uint8_t *)w;
    for (int k0 = 0; k0 < k; k0 += KC) {
        const int kc = k - k0 < KC ? k - k0 : KC;
        for (int g = group_begin; g < group_end; g += PR / 8) {
            const int ng = group_end - g < PR / 8 ? group_end - g : PR / 8;
            pack(wb, gb, g, ng, k0 / LR_QK, kc / LR_QK, panel);
            for (int t = 0; t < n_tok; t += PT) {
                const int nt = n_tok - t < PT ? n_tok - t : PT;
                micros[nt](panel, kc, a + (size_t)t * a_ld + k0, a_ld, out + (size_t)t * out_ld + 8 * g, out_ld, 8 * ng,
                           k0 > 0);
            }
        }
    }
    return 0;
}

#endif
