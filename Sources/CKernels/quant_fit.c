// Quantization that fits each block's scale (and Q4_1's offset) to the values by weighted
// least squares, instead of the reference rounding's max-based scale.
//
// The pruner requantizes edited matrices (a down projection with its channels selected and
// scaled, every matrix when a budget asks for a narrower format). A 4-bit block whose scale
// is set by its largest value wastes most of its 16 levels when one value stands out; searching
// a few scales around that one and solving for the best scale given the rounded levels cuts the
// error. The weights say which columns matter: with the mean square of each input column over
// calibration tokens, sum_j w_j (x_j - xhat_j)^2 is the expected squared output error of the row
// (cross terms between columns ignored).
#include <float.h>
#include <math.h>

#include "kernels_internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF  // the same bytes on every machine
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Candidate scales: the max-based one stretched by (levels + k * step) / levels for k in
// -CANDIDATES..CANDIDATES.
#define CANDIDATES 8
#define STEP 0.1f
#define LANES 8

// v clamped to [lo, hi] and rounded half to even, in float: plain compares and the 1.5 * 2^23
// trick keep the loops below free of library calls, so they vectorise.
static inline float level(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (v + 0x1.8p23f) - 0x1.8p23f;
}

// For levels l_j = level(iscale * (x_j - offset)): sum w l, sum w l^2, sum w l x. Eight lanes
// of partial sums, added in a fixed order, so the result is the same on every machine.
typedef struct { float sl, sl2, slx; } level_sums;

static level_sums sums_for(const float *x, const float *w, float offset, float iscale, float lo, float hi) {
    float a[LANES] = {0}, b[LANES] = {0}, c[LANES] = {0};
    for (int j0 = 0; j0 < LR_QK; j0 += LANES) {
        for (int k = 0; k < LANES; k++) {
            const float l = level(iscale * (x[j0 + k] - offset), lo, hi);
            const float wl = w[j0 + k] * l;
            a[k] += wl;
            b[k] += wl * l;
            c[k] += wl * x[j0 + k];
        }
    }
    level_sums r = {0, 0, 0};
    for (int k = 0; k < LANES; k++) { r.sl += a[k]; r.sl2 += b[k]; r.slx += c[k]; }
    return r;
}

// Levels times the candidate inverse scale `iscale`, summed as level_sums: one per format.
typedef level_sums (*level_sums_fn)(const float *x, const float *w, float iscale);

// The scale of a block whose levels are symmetric about zero (x ~ d * l). For given levels the
// best d is slx / sl2, leaving an error of sum w x^2 - slx^2 / sl2: the candidate with the
// largest slx^2 / sl2 wins. Candidates put the block's largest value `max` near the lowest level
// `low` or the highest `high`, in steps of `step` levels.
static float fit_scale(const float *x, const float *w, float max, float low, float high, float step, level_sums_fn sums) {
    float best = -1.0f, d = 0.0f;
    for (int side = 0; side < 2; side++) {
        for (int k = -CANDIDATES; k <= CANDIDATES; k++) {
            const float iscale = side == 0 ? (low - step * k) / max : (high + step * k) / max;
            const level_sums s = sums(x, w, iscale);
            if (s.sl2 > 0.0f && s.slx * s.slx > best * s.sl2) {
                best = s.slx * s.slx / s.sl2;
                d = s.slx / s.sl2;
            }
        }
    }
    // The best scale rounds some values to other levels than those it was solved for: round
    // again and re-solve while that helps.
    for (int it = 0; it < 4 && d != 0.0f; it++) {
        const level_sums s = sums(x, w, 1.0f / d);
        if (!(s.sl2 > 0.0f && s.slx * s.slx > best * s.sl2 * 1.000001f)) break;
        best = s.slx * s.slx / s.sl2;
        d = s.slx / s.sl2;
    }
    return d;
}

// The value of largest magnitude in a block (0 if all are 0).
static float signed_max(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < LR_QK; j++) {
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    }
    return max;
}

static level_sums q4_0_sums(const float *x, const float *w, float iscale) {
    return sums_for(x, w, 0.0f, iscale, -8.0f, 7.0f);
}

// Q4_0: x ~ d * q, q in -8..7. The largest value mapped to -8 (one step more on the far side, as
// the reference) or to +7 (one step less, the far side reaching -8 for values of the other sign).
static void fit_block_q4_0(const float *x, const float *w, lr_block_q4_0 *y) {
    const float max = signed_max(x);
    const float d = max != 0.0f ? fit_scale(x, w, max, -8.0f, 7.0f, STEP, q4_0_sums) : 0.0f;
    const uint16_t dh = lr_f32_to_f16_inline(d);
    const float df = lr_f16_to_f32_inline(dh);
    const float id = df != 0.0f ? 1.0f / df : 0.0f;
    y->d = dh;
    for (int j = 0; j < LR_QK / 2; j++) {
        const int lo = (int)level(x[j] * id, -8.0f, 7.0f) + 8;
        const int hi = (int)level(x[j + LR_QK / 2] * id, -8.0f, 7.0f) + 8;
        y->qs[j] = (uint8_t)(lo | (hi << 4));
    }
}

// The error sum w (d l + m - x)^2 of Q4_1 levels at their best (d, m), which solve the normal
// equations [sl2 sl; sl sw] [d; m] = [slx; sx]. Returns 0 if the levels do not determine them.
static int solve_q4_1(level_sums s, float sw, float sx, float sx2, float *d, float *m, float *err) {
    const float det = sw * s.sl2 - s.sl * s.sl;
    if (!(det > 0.0f)) return 0;
    *d = (sw * s.slx - sx * s.sl) / det;
    *m = (s.sl2 * sx - s.sl * s.slx) / det;
    *err = sx2 - 2 * *d * s.slx - 2 * *m * sx + *d * *d * s.sl2 + 2 * *d * *m * s.sl + *m * *m * sw;
    return *d > 0.0f;
}

// Q4_1: x ~ d * q + m, q in 0..15.
static void fit_block_q4_1(const float *x, const float *w, lr_block_q4_1 *y) {
    float min = FLT_MAX, max = -FLT_MAX;
    float sw = 0.0f, sx = 0.0f, sx2 = 0.0f;
    for (int j = 0; j < LR_QK; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
        sw += w[j];
        sx += w[j] * x[j];
        sx2 += w[j] * x[j] * x[j];
    }
    float d = 0.0f, m = min;
    if (max > min && sw > 0.0f) {
        float best = FLT_MAX;
        for (int k = -CANDIDATES; k <= CANDIDATES; k++) {
            float dk, mk, err;
            const level_sums s = sums_for(x, w, min, (15.0f + STEP * k) / (max - min), 0.0f, 15.0f);
            if (solve_q4_1(s, sw, sx, sx2, &dk, &mk, &err) && err < best) { best = err; d = dk; m = mk; }
        }
        if (best == FLT_MAX) { d = (max - min) / 15.0f; m = min; }
        // Round again to the solved grid and re-solve while that helps.
        for (int it = 0; it < 4 && best < FLT_MAX; it++) {
            float dk, mk, err;
            const level_sums s = sums_for(x, w, m, 1.0f / d, 0.0f, 15.0f);
            if (!solve_q4_1(s, sw, sx, sx2, &dk, &mk, &err) || !(err < best * 0.999999f)) break;
            best = err; d = dk; m = mk;
        }
    }
    const uint16_t dh = lr_f32_to_f16_inline(d), mh = lr_f32_to_f16_inline(m);
    const float df = lr_f16_to_f32_inline(dh), mf = lr_f16_to_f32_inline(mh);
    const float id = df != 0.0f ? 1.0f / df : 0.0f;
    y->d = dh;
    y->m = mh;
    for (int j = 0; j < LR_QK / 2; j++) {
        const int lo = (int)level((x[j] - mf) * id, 0.0f, 15.0f);
        const int hi = (int)level((x[j + LR_QK / 2] - mf) * id, 0.0f, 15.0f);
        y->qs[j] = (uint8_t)(lo | (hi << 4));
    }
}

// IQ4_NL: x ~ d * level[q]. The levels are uneven, so a value's level is found by comparing
// with the midpoints rather than by rounding; the scale is fitted as Q4_0's.
// The midpoints between neighbouring levels: a value's level is the number of them it exceeds.
static const float iq4_mid[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
                                  7.0f,    19.0f,  31.5f,  45.5f,  61.0f,  79.0f,  101.0f};

static inline int iq4_nearest(float v) {
    int q = 0;
    for (int k = 0; k < 15; k++) q += v > iq4_mid[k];
    return q;
}

static level_sums iq4_sums_for(const float *x, const float *w, float iscale) {
    // The levels first, as the lowest plus each step passed (small integers, exact in float):
    // a loop without table lookups or float sums, so it vectorises across the block; the sums
    // then run in index order, as they always have (the same bytes on every machine).
    float l[LR_QK];
    for (int j = 0; j < LR_QK; j++) {
        const float v = iscale * x[j];
        float level = -127.0f;
        for (int k = 0; k < 15; k++) level += v > iq4_mid[k] ? (float)(lr_iq4_values[k + 1] - lr_iq4_values[k]) : 0.0f;
        l[j] = level;
    }
    level_sums r = {0, 0, 0};
    for (int j = 0; j < LR_QK; j++) {
        const float wl = w[j] * l[j];
        r.sl += wl;
        r.sl2 += wl * l[j];
        r.slx += wl * x[j];
    }
    return r;
}

// The largest value at the level -127 or at +113 (the ends), and scales around those in steps
// of about a tenth of the levels' spacing.
static void fit_block_iq4_nl(const float *x, const float *w, lr_block_iq4_nl *y) {
    const float max = signed_max(x);
    const float d = max != 0.0f ? fit_scale(x, w, max, -127.0f, 113.0f, 1.5f, iq4_sums_for) : 0.0f;
    const uint16_t dh = lr_f32_to_f16_inline(d);
    const float df = lr_f16_to_f32_inline(dh);
    const float id = df != 0.0f ? 1.0f / df : 0.0f;
    y->d = dh;
    for (int j = 0; j < LR_QK / 2; j++) {
        y->qs[j] = (uint8_t)(iq4_nearest(x[j] * id) | (iq4_nearest(x[j + LR_QK / 2] * id) << 4));
    }
}

// Block i's weights, or `ones` where they cannot steer a fit: none given, any negative or not
// finite, or all zero (inputs that never fired on the calibration text would otherwise leave
// the block all zeros, whatever other text makes them carry).
static const float *block_weights(const float *weights, int64_t i, const float *ones) {
    if (!weights) return ones;
    const float *w = weights + i * LR_QK;
    float sum = 0.0f;
    for (int j = 0; j < LR_QK; j++) {
        if (!(w[j] >= 0.0f) || !isfinite(w[j])) return ones;
        sum += w[j];
    }
    return sum > 0.0f && isfinite(sum) ? w : ones;
}

int lr_quantize_row_fit(int ggml_type, const float *src, void *dst, int64_t n, const float *weights) {
    static const float ones[LR_QK] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    switch (ggml_type) {
    case LR_TYPE_Q4_0:
        for (int64_t i = 0; i < n / LR_QK; i++) {
            fit_block_q4_0(src + i * LR_QK, block_weights(weights, i, ones), (lr_block_q4_0 *)dst + i);
        }
        return 0;
    case LR_TYPE_Q4_1:
        for (int64_t i = 0; i < n / LR_QK; i++) {
            fit_block_q4_1(src + i * LR_QK, block_weights(weights, i, ones), (lr_block_q4_1 *)dst + i);
        }
        return 0;
    case LR_TYPE_IQ4_NL:
        for (int64_t i = 0; i < n / LR_QK; i++) {
            fit_block_iq4_nl(src + i * LR_QK, block_weights(weights, i, ones), (lr_block_iq4_nl *)dst + i);
        }
        return 0;
    default:
        // Q8_0's 255 levels leave little to fit; the other formats are exact or near it.
        return lr_quantize_row_ref(ggml_type, src, dst, n);
    }
}
