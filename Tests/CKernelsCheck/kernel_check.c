// Standalone check of CKernels (no Swift): every SIMD backend this CPU offers against the
// scalar reference, plus conversions, dequantization of hand-built blocks and quantizer
// round trips. Last line: "N passed, N failed"; exit status 1 on any failure.
//   kernel_check            run the checks
//   kernel_check --bench    also time mat-vec / mat-mat (GB/s of weights streamed)
// Built by Tools/check-kernels together with Sources/CKernels/*.c.
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckernels.h"

static int passed, failed;

static void check(int ok, const char *fmt, ...) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "FAIL: ");
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
}

// ---------------------------------------------------------------------------
// Random data

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float rnd_uniform(float lo, float hi) { return lo + (hi - lo) * (float)((rnd() >> 40) * 0x1p-24); }
static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
/// Random bits with an exponent around the half range (2^-27 .. 2^18): subnormal halves to overflow.
static float rnd_half_range(void) {
    const uint32_t u = (uint32_t)rnd();
    return bits_f32((u & 0x807fffffu) | (uint32_t)(100 + rnd() % 46) << 23);
}

static size_t block_bytes(int type) {
    switch (type) {
    case LR_TYPE_Q8_0: return sizeof(lr_block_q8_0);
    case LR_TYPE_Q4_0: return sizeof(lr_block_q4_0);
    case LR_TYPE_Q4_1: return sizeof(lr_block_q4_1);
    case LR_TYPE_IQ4_NL: return sizeof(lr_block_iq4_nl);
    case LR_TYPE_Q5_0: return sizeof(lr_block_q5_0);
    case LR_TYPE_Q5_1: return sizeof(lr_block_q5_1);
    default: return 0;
    }
}
static const char *type_name(int type) {
    switch (type) {
    case LR_TYPE_Q8_0: return "q8_0";
    case LR_TYPE_Q4_0: return "q4_0";
    case LR_TYPE_Q4_1: return "q4_1";
    case LR_TYPE_IQ4_NL: return "iq4_nl";
    case LR_TYPE_Q5_0: return "q5_0";
    case LR_TYPE_Q5_1: return "q5_1";
    default: return "?";
    }
}

/// Random weight blocks as a quantizer would write them (int8 values in -127..127).
static void fill_weights(int type, void *dst, int nblocks) {
    uint8_t *p = dst;
    const size_t bb = block_bytes(type);
    for (int b = 0; b < nblocks; b++, p += bb) {
        const uint16_t d = lr_f32_to_f16(rnd_uniform(0.001f, 0.05f));
        memcpy(p, &d, 2);
        if (type == LR_TYPE_Q8_0) {
            for (int j = 0; j < 32; j++) p[2 + j] = (uint8_t)(int8_t)((int)(rnd() % 255) - 127);
        } else {
            int off = 2;
            if (type == LR_TYPE_Q4_1 || type == LR_TYPE_Q5_1) {
                const uint16_t m = lr_f32_to_f16(rnd_uniform(-0.4f, 0.1f));
                memcpy(p + 2, &m, 2);
                off = 4;
            }
            if (type == LR_TYPE_Q5_0 || type == LR_TYPE_Q5_1) {
                for (int j = 0; j < 4; j++) p[off + j] = (uint8_t)rnd();  // qh
                off += 4;
            }
            for (int j = 0; j < 16; j++) p[off + j] = (uint8_t)rnd();
        }
    }
}

static void fill_activations(lr_block_q8_0 *a, int nblocks) {
    for (int b = 0; b < nblocks; b++) {
        a[b].d = lr_f32_to_f16(rnd_uniform(0.005f, 0.2f));
        for (int j = 0; j < 32; j++) a[b].qs[j] = (int8_t)((int)(rnd() % 255) - 127);
    }
}

/// Sum of |terms| of a dot product, the scale its rounding error is measured against.
static double dot_magnitude(int type, int n, const void *w, const void *a) {
    const lr_block_q8_0 *y = a;
    const uint8_t *x = w;
    const size_t bb = block_bytes(type);
    double s = 0;
    for (int b = 0; b < n / 32; b++, x += bb) {
        uint16_t dh;
        memcpy(&dh, x, 2);
        const double d = fabs((double)lr_f16_to_f32(dh) * lr_f16_to_f32(y[b].d));
        double isum = 0, asum = 0;
        for (int j = 0; j < 32; j++) {
            int q;
            if (type == LR_TYPE_Q8_0) q = abs((int8_t)x[2 + j]);
            else if (type == LR_TYPE_Q5_0 || type == LR_TYPE_Q5_1) {
                const int qh = type == LR_TYPE_Q5_1 ? 4 : 2;
                const uint8_t byte = x[qh + 4 + (j & 15)];
                q = abs(((j < 16 ? byte & 15 : byte >> 4) | ((x[qh + j / 8] >> (j % 8) & 1) << 4)) - (type == LR_TYPE_Q5_0 ? 16 : 0));
            } else if (type == LR_TYPE_IQ4_NL) {
                const uint8_t byte = x[2 + (j & 15)];
                q = abs(lr_iq4_values[j < 16 ? byte & 15 : byte >> 4]);
            } else {
                const uint8_t byte = x[(type == LR_TYPE_Q4_1 ? 4 : 2) + (j & 15)];
                q = (j < 16 ? byte & 15 : byte >> 4) + (type == LR_TYPE_Q4_0 ? 8 : 0);
            }
            isum += q * abs(y[b].qs[j]);
            asum += abs(y[b].qs[j]);
        }
        s += d * isum;
        if (type == LR_TYPE_Q4_1 || type == LR_TYPE_Q5_1) {
            uint16_t mh;
            memcpy(&mh, x + 2, 2);
            s += fabs(lr_f16_to_f32(mh) * lr_f16_to_f32(y[b].d)) * asum;
        }
    }
    return s;
}

/// Exact (double) dot product, to check the scalar oracle itself.
static double dot_exact(int type, int n, const void *w, const void *a) {
    float wf[4096], af[4096];
    lr_dequantize_row(type, w, wf, n);
    lr_dequantize_row_q8_0(a, af, n);
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)wf[i] * af[i];
    return s;
}

static void (*scalar_dot(int type))(int, float *, const void *, const void *) {
    switch (type) {
    case LR_TYPE_Q8_0: return lr_vec_dot_q8_0_q8_0_scalar;
    case LR_TYPE_Q4_0: return lr_vec_dot_q4_0_q8_0_scalar;
    default: return lr_vec_dot_q4_1_q8_0_scalar;
    }
}
static void (*dispatched_dot(int type))(int, float *, const void *, const void *) {
    switch (type) {
    case LR_TYPE_Q8_0: return lr_vec_dot_q8_0_q8_0;
    case LR_TYPE_Q4_0: return lr_vec_dot_q4_0_q8_0;
    default: return lr_vec_dot_q4_1_q8_0;
    }
}

/// Types with row-layout SIMD kernels (dots, gemm, benchmarks); IQ4_NL runs in x8 only.
static const int types[] = {LR_TYPE_Q8_0, LR_TYPE_Q4_0, LR_TYPE_Q4_1};
static const char *simd_backends[] = {"avx512vnni", "avx2", "neon", "neon+dotprod"};

// ---------------------------------------------------------------------------
// f16 / bf16

static void check_f16(void) {
    struct { float f; uint16_t h; } known[] = {
        {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff}, {65519.99f, 0x7bff}, {65520.0f, 0x7c00},
        {1e10f, 0x7c00}, {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000}, {0x1.000002p-25f, 0x0001},
        {0x1.8p-24f, 0x0002}, {0x1p-14f, 0x0400}, {0x1.ff8p-15f, 0x03ff}, {0x1.ffcp-15f, 0x0400}, {-0.0f, 0x8000},
        {INFINITY, 0x7c00}, {-INFINITY, 0xfc00}, {1.0009765625f, 0x3c01}, {1.00048828125f, 0x3c00},
        {1.00146484375f, 0x3c02}, {0.333333343f, 0x3555},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        check(lr_f32_to_f16(known[i].f) == known[i].h, "f32_to_f16(%a) = %04x, want %04x", known[i].f,
              lr_f32_to_f16(known[i].f), known[i].h);
    check(lr_f32_to_f16(bits_f32(0x7fc00000)) == 0x7e00, "f32_to_f16(qNaN)");
    check(lr_f32_to_f16(bits_f32(0xff800001)) == 0xfe00, "f32_to_f16(-sNaN) quieted");
    check(lr_f32_to_f16(bits_f32(0x7fffe000)) == 0x7fff, "f32_to_f16(NaN payload)");

    // Every half: to f32 and back is the identity (signalling NaNs come back quiet).
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        const float f = lr_f16_to_f32((uint16_t)h);
        const int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        const uint16_t want = is_nan ? (uint16_t)(h | 0x200) : (uint16_t)h;
        if (lr_f32_to_f16(f) != want) bad++;
        if (!is_nan && (h & 0x7c00) != 0x7c00) {  // finite: compare with the formula
            const int e = (h >> 10) & 31, m = h & 0x3ff;
            double v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
            if (h & 0x8000) v = -v;
            if ((double)f != v) bad++;
        }
    }
    check(bad == 0, "f16 round trip over all 65536 halves: %d bad", bad);
    check(lr_f16_to_f32(0x7c00) == INFINITY && isnan(lr_f16_to_f32(0x7e00)), "f16 inf/nan to f32");

    // Rounding of random f32 against a double-precision rounding to the half grid.
    bad = 0;
    for (int i = 0; i < 2000000; i++) {
        const float f = rnd_half_range();
        const uint16_t h = lr_f32_to_f16(f);
        const double want = fabs((double)f);
        // nearest-even on the half grid: compare the candidate with its neighbours
        const double got = fabs((double)lr_f16_to_f32(h));
        if (isinf(got)) { if (want < 65520.0) bad++; continue; }
        const uint16_t hm = (uint16_t)(h & 0x7fff);
        const double up = hm < 0x7bff ? fabs((double)lr_f16_to_f32((uint16_t)(hm + 1))) : INFINITY;
        const double dn = hm > 0 ? fabs((double)lr_f16_to_f32((uint16_t)(hm - 1))) : -INFINITY;
        const double err = fabs(got - want);
        if (err > fabs(up - want) || err > fabs(want - dn)) bad++;
        if ((err == fabs(up - want) || err == fabs(want - dn)) && err != 0 && (hm & 1)) bad++;  // tie not even
    }
    check(bad == 0, "f32_to_f16 nearest-even on 2M random floats: %d bad", bad);

    struct { uint32_t f; uint16_t h; } bknown[] = {
        {0x3f800000, 0x3f80}, {0x3f808000, 0x3f80}, {0x3f818000, 0x3f82}, {0x3f808001, 0x3f81},
        {0x7f800000, 0x7f80}, {0xff800000, 0xff80}, {0x7f800001, 0x7fc0}, {0xffc12345, 0xffc1},
        {0x7f7fffff, 0x7f80}, {0x00000001, 0x0000}, {0x80000000, 0x8000}, {0x00018000, 0x0002},
    };
    for (size_t i = 0; i < sizeof bknown / sizeof bknown[0]; i++)
        check(lr_f32_to_bf16(bits_f32(bknown[i].f)) == bknown[i].h, "f32_to_bf16(%08x) = %04x, want %04x",
              bknown[i].f, lr_f32_to_bf16(bits_f32(bknown[i].f)), bknown[i].h);
    check(f32_bits(lr_bf16_to_f32(0x3f80)) == 0x3f800000 && f32_bits(lr_bf16_to_f32(0x8001)) == 0x80010000,
          "bf16_to_f32");
}

/// Row conversions of every backend equal the scalar helpers bit for bit.
static void check_rows(const char *backend) {
    enum { N = 4099 };
    static float f[N], f2[N];
    static uint16_t h[N], h2[N];
    for (int i = 0; i < N; i++) {
        uint32_t u = (uint32_t)rnd();
        if (i % 3 == 0) u = f32_bits(rnd_half_range());
        if (i % 101 == 0) u = 0x7f800000u | (uint32_t)(rnd() & 0x7fffff) | 1u;  // NaN
        f[i] = bits_f32(u);
        h[i] = (uint16_t)rnd();
    }
    int bad = 0;
    lr_f32_to_f16_row(f, h2, N);
    for (int i = 0; i < N; i++) bad += h2[i] != lr_f32_to_f16(f[i]);
    check(bad == 0, "[%s] f32_to_f16_row: %d differ from scalar", backend, bad);
    bad = 0;
    lr_f16_to_f32_row(h, f2, N);
    for (int i = 0; i < N; i++) bad += f32_bits(f2[i]) != f32_bits(lr_f16_to_f32(h[i]));
    check(bad == 0, "[%s] f16_to_f32_row: %d differ from scalar", backend, bad);
    bad = 0;
    lr_f32_to_bf16_row(f, h2, N);
    for (int i = 0; i < N; i++) bad += h2[i] != lr_f32_to_bf16(f[i]);
    check(bad == 0, "[%s] f32_to_bf16_row: %d differ from scalar", backend, bad);
    bad = 0;
    lr_bf16_to_f32_row(h, f2, N);
    for (int i = 0; i < N; i++) bad += f32_bits(f2[i]) != f32_bits(lr_bf16_to_f32(h[i]));
    check(bad == 0, "[%s] bf16_to_f32_row: %d differ from scalar", backend, bad);
}

// ---------------------------------------------------------------------------
// Dequantization of hand-built blocks

static int near(float got, float want) { return fabsf(got - want) <= 1e-6f * fmaxf(1.0f, fabsf(want)); }

static int check_values(const char *what, const float *got, const float *want, int n) {
    for (int i = 0; i < n; i++) {
        if (!near(got[i], want[i])) {
            check(0, "%s: value %d is %g, want %g", what, i, got[i], want[i]);
            return 0;
        }
    }
    check(1, "%s", what);
    return 1;
}

static void check_dequant(void) {
    float y[256], want[256];

    {  // Q8_0: d = 0.5
        lr_block_q8_0 b = {.d = 0x3800};
        for (int j = 0; j < 32; j++) { b.qs[j] = (int8_t)(j * 8 - 127); want[j] = 0.5f * (j * 8 - 127); }
        lr_dequantize_row_q8_0(&b, y, 32);
        check_values("dequant q8_0", y, want, 32);
    }
    {  // Q4_0: d = 2, byte j = lo j%16, hi 15-j%16
        lr_block_q4_0 b = {.d = 0x4000};
        for (int j = 0; j < 16; j++) {
            b.qs[j] = (uint8_t)(j | ((15 - j) << 4));
            want[j] = 2.0f * (j - 8);
            want[j + 16] = 2.0f * (15 - j - 8);
        }
        lr_dequantize_row_q4_0(&b, y, 32);
        check_values("dequant q4_0", y, want, 32);
    }
    {  // Q4_1: d = 0.25, m = -1
        lr_block_q4_1 b = {.d = 0x3400, .m = 0xbc00};
        for (int j = 0; j < 16; j++) {
            b.qs[j] = (uint8_t)(j | ((15 - j) << 4));
            want[j] = 0.25f * j - 1.0f;
            want[j + 16] = 0.25f * (15 - j) - 1.0f;
        }
        lr_dequantize_row_q4_1(&b, y, 32);
        check_values("dequant q4_1", y, want, 32);
    }
    {  // Q5_0 / Q5_1: fifth bit set for odd values
        lr_block_q5_0 b0 = {.d = 0x3c00};
        lr_block_q5_1 b1 = {.d = 0x3c00, .m = 0x4000};
        uint32_t qh = 0;
        for (int j = 0; j < 32; j++) if (j & 1) qh |= 1u << j;
        for (int i = 0; i < 4; i++) b0.qh[i] = b1.qh[i] = (uint8_t)(qh >> (8 * i));
        for (int j = 0; j < 16; j++) b0.qs[j] = b1.qs[j] = (uint8_t)(j | ((15 - j) << 4));
        for (int j = 0; j < 32; j++) {
            const int q = (j < 16 ? j : 15 - (j - 16)) | ((j & 1) << 4);
            want[j] = (float)(q - 16);
        }
        lr_dequantize_row_q5_0(&b0, y, 32);
        check_values("dequant q5_0", y, want, 32);
        for (int j = 0; j < 32; j++) want[j] = want[j] + 16 + 2.0f;
        lr_dequantize_row_q5_1(&b1, y, 32);
        check_values("dequant q5_1", y, want, 32);
    }
    {  // Q2_K: value i has q = (i / 32 + i) & 3; sub-block s has scale s%16 (low nibble), min 1
        lr_block_q2_K b = {.d = 0x3c00, .dmin = 0x3800};
        for (int s = 0; s < 16; s++) b.scales[s] = (uint8_t)((s & 15) | (1 << 4));
        memset(b.qs, 0, sizeof b.qs);
        for (int i = 0; i < 256; i++) {
            const int half = i / 128, plane = (i % 128) / 32, l = i % 32;
            const int q = (i / 32 + i) & 3;
            b.qs[half * 32 + l] |= (uint8_t)(q << (2 * plane));
            want[i] = 1.0f * (i / 16) * q - 0.5f * 1;
        }
        lr_dequantize_row_q2_K(&b, y, 256);
        check_values("dequant q2_K", y, want, 256);
    }
    {  // Q3_K: scale of sub-block s is s*4 - 32 + 1 (6-bit s*4+1), q = i%8 - 4 (low 2 bits + hmask bit)
        lr_block_q3_K b = {.d = 0x3800};
        memset(b.qs, 0, sizeof b.qs);
        memset(b.hmask, 0, sizeof b.hmask);
        memset(b.scales, 0, sizeof b.scales);
        for (int s = 0; s < 16; s++) {
            const int v = s * 4 + 1;  // 6 bits
            if (s < 8) b.scales[s] |= (uint8_t)(v & 15);
            else b.scales[s - 8] |= (uint8_t)((v & 15) << 4);
            b.scales[8 + (s & 3)] |= (uint8_t)((v >> 4) << (2 * (s / 4)));
        }
        for (int i = 0; i < 256; i++) {
            const int half = i / 128, plane = (i % 128) / 32, l = i % 32;
            const int u = i % 8;  // 3-bit unsigned; value = u - 4
            b.qs[half * 32 + l] |= (uint8_t)((u & 3) << (2 * plane));
            if (u & 4) b.hmask[l] |= (uint8_t)(1 << (half * 4 + plane));
            want[i] = 0.5f * ((i / 16) * 4 + 1 - 32) * (u - 4);
        }
        lr_dequantize_row_q3_K(&b, y, 256);
        check_values("dequant q3_K", y, want, 256);
    }
    // Q4_K / Q5_K: sub-block s (32 values) has scale s+1 and min 2s (6-bit, packed)
    uint8_t k4[12] = {0};
    for (int s = 0; s < 8; s++) {
        const int sc = s + 1 + (s >= 4 ? 40 : 0), mn = 2 * s + (s >= 4 ? 33 : 0);  // high bits exercised
        if (s < 4) {
            k4[s] |= (uint8_t)sc;
            k4[s + 4] |= (uint8_t)mn;
        } else {
            k4[s + 4] = (uint8_t)((sc & 15) | ((mn & 15) << 4));
            k4[s - 4] |= (uint8_t)((sc >> 4) << 6);
            k4[s] |= (uint8_t)((mn >> 4) << 6);
        }
    }
    {
        lr_block_q4_K b = {.d = 0x3800, .dmin = 0x3400};
        memcpy(b.scales, k4, 12);
        memset(b.qs, 0, sizeof b.qs);
        for (int i = 0; i < 256; i++) {
            const int s = i / 32, q = (i * 7) & 15;
            const int sc = s + 1 + (s >= 4 ? 40 : 0), mn = 2 * s + (s >= 4 ? 33 : 0);
            b.qs[(s / 2) * 32 + i % 32] |= (uint8_t)(q << (4 * (s & 1)));
            want[i] = 0.5f * sc * q - 0.25f * mn;
        }
        lr_dequantize_row_q4_K(&b, y, 256);
        check_values("dequant q4_K", y, want, 256);
    }
    {
        lr_block_q5_K b = {.d = 0x3800, .dmin = 0x3400};
        memcpy(b.scales, k4, 12);
        memset(b.qs, 0, sizeof b.qs);
        memset(b.qh, 0, sizeof b.qh);
        for (int i = 0; i < 256; i++) {
            const int s = i / 32, q = (i * 7) & 31;
            const int sc = s + 1 + (s >= 4 ? 40 : 0), mn = 2 * s + (s >= 4 ? 33 : 0);
            b.qs[(s / 2) * 32 + i % 32] |= (uint8_t)((q & 15) << (4 * (s & 1)));
            if (q & 16) b.qh[i % 32] |= (uint8_t)(1 << s);
            want[i] = 0.5f * sc * q - 0.25f * mn;
        }
        lr_dequantize_row_q5_K(&b, y, 256);
        check_values("dequant q5_K", y, want, 256);
    }
    {  // Q6_K: sub-block s (16 values) has scale s - 8, q = (i*5) & 63 (value q - 32)
        lr_block_q6_K b = {.d = 0x3400};
        memset(b.ql, 0, sizeof b.ql);
        memset(b.qh, 0, sizeof b.qh);
        for (int s = 0; s < 16; s++) b.scales[s] = (int8_t)(s - 8);
        for (int i = 0; i < 256; i++) {
            const int half = i / 128, quarter = (i % 128) / 32, l = i % 32;
            const int q = (i * 5) & 63;
            b.ql[half * 64 + (quarter & 1) * 32 + l] |= (uint8_t)((q & 15) << (4 * (quarter >> 1)));
            b.qh[half * 32 + l] |= (uint8_t)((q >> 4) << (2 * quarter));
            want[i] = 0.25f * (i / 16 - 8) * (q - 32);
        }
        lr_dequantize_row_q6_K(&b, y, 256);
        check_values("dequant q6_K", y, want, 256);
    }
    {  // f16 / bf16 / f32 through the generic entry point; unsupported types rejected
        uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
        const float hw[4] = {1.0f, -2.0f, 65504.0f, 0x1p-24f};
        check(lr_dequantize_row(LR_TYPE_F16, h, y, 4) == 0, "dequant f16 status");
        check_values("dequant f16", y, hw, 4);
        uint16_t bh[2] = {0x3f80, 0xc040};
        const float bw[2] = {1.0f, -3.0f};
        check(lr_dequantize_row(LR_TYPE_BF16, bh, y, 2) == 0, "dequant bf16 status");
        check_values("dequant bf16", y, bw, 2);
        check(lr_dequantize_row(LR_TYPE_F32, hw, y, 4) == 0 && memcmp(y, hw, sizeof hw) == 0, "dequant f32");
        check(lr_dequantize_row(9, h, y, 32) == -1 && lr_dequantize_row(99, h, y, 32) == -1,
              "dequant rejects unsupported types");
    }
}

// ---------------------------------------------------------------------------
// Quantization

static void check_quantize(void) {
    enum { N = 4096 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = rnd_uniform(-1.0f, 1.0f) * (i % 97 == 0 ? 10.0f : 1.0f);

    // Round trips: error within half a step (plus the f16 rounding of the scale).
    static lr_block_q8_0 q8[N / 32];
    static lr_block_q4_0 q40[N / 32];
    static lr_block_q4_1 q41[N / 32];
    lr_quantize_row_q8_0_ref(x, q8, N);
    lr_dequantize_row_q8_0(q8, y, N);
    int bad = 0;
    for (int b = 0; b < N / 32; b++) {
        const float d = lr_f16_to_f32(q8[b].d);
        for (int j = 0; j < 32; j++) bad += fabsf(y[b * 32 + j] - x[b * 32 + j]) > 0.5f * d + 127 * d * 1e-3f;
    }
    check(bad == 0, "q8_0_ref round trip: %d values off", bad);
    lr_quantize_row_q4_0_ref(x, q40, N);
    lr_dequantize_row_q4_0(q40, y, N);
    bad = 0;
    for (int b = 0; b < N / 32; b++) {
        // the largest magnitude maps to -8 exactly, so the other end may clamp at 7: up to one step off
        const float d = fabsf(lr_f16_to_f32(q40[b].d));
        for (int j = 0; j < 32; j++) bad += fabsf(y[b * 32 + j] - x[b * 32 + j]) > d + 8 * d * 1e-3f;
    }
    check(bad == 0, "q4_0_ref round trip: %d values off", bad);
    lr_quantize_row_q4_1_ref(x, q41, N);
    lr_dequantize_row_q4_1(q41, y, N);
    bad = 0;
    for (int b = 0; b < N / 32; b++) {
        const float d = lr_f16_to_f32(q41[b].d), m = lr_f16_to_f32(q41[b].m);
        for (int j = 0; j < 32; j++)
            bad += fabsf(y[b * 32 + j] - x[b * 32 + j]) > 0.5f * d + 16 * d * 1e-3f + fabsf(m) * 1e-3f;
    }
    check(bad == 0, "q4_1_ref round trip: %d values off", bad);

    // Hand-checked blocks.
    float v[32];
    for (int j = 0; j < 32; j++) v[j] = (float)(j - 16) * 0.5f;  // amax 8 at j=0 (value -8)
    lr_block_q8_0 b8;
    lr_quantize_row_q8_0_ref(v, &b8, 32);
    check(b8.d == lr_f32_to_f16(8.0f / 127.0f) && b8.qs[0] == -127 && b8.qs[16] == 0 && b8.qs[31] == 119,
          "q8_0_ref known block");
    lr_block_q4_0 b4;
    lr_quantize_row_q4_0_ref(v, &b4, 32);  // max = -8 -> d = 1, q = v + 8.5 truncated
    check(b4.d == 0x3c00 && (b4.qs[0] & 15) == 0 && (b4.qs[1] & 15) == 1 && (b4.qs[2] & 15) == 1 &&
              (b4.qs[15] >> 4) == 15,
          "q4_0_ref known block");
    lr_block_q4_1 b41;
    lr_quantize_row_q4_1_ref(v, &b41, 32);  // min -8, max 7.5 -> d = 15.5/15
    check(b41.m == lr_f32_to_f16(-8.0f) && b41.d == lr_f32_to_f16(15.5f / 15.0f) && (b41.qs[0] & 15) == 0 &&
              (b41.qs[15] >> 4) == 15,
          "q4_1_ref known block");
    memset(v, 0, sizeof v);
    lr_quantize_row_q8_0_ref(v, &b8, 32);
    int zero = b8.d == 0;
    for (int j = 0; j < 32; j++) zero &= b8.qs[j] == 0;
    check(zero, "q8_0_ref of zeros");

    // Generic entry point.
    static uint8_t buf[N * 4];
    check(lr_quantize_row_ref(LR_TYPE_Q8_0, x, buf, N) == 0 && memcmp(buf, q8, sizeof q8) == 0, "quantize_row_ref q8_0");
    check(lr_quantize_row_ref(LR_TYPE_Q4_1, x, buf, N) == 0 && memcmp(buf, q41, sizeof q41) == 0, "quantize_row_ref q4_1");
    check(lr_quantize_row_ref(LR_TYPE_Q6_K, x, buf, N) == -1, "quantize_row_ref rejects q6_K");
}

/// The SIMD activation quantizer equals the reference, including ties at .5.
static void check_quantize_q8_0_fast(const char *backend) {
    enum { N = 4096 };
    static float x[N];
    static lr_block_q8_0 ref[N / 32], got[N / 32];
    for (int i = 0; i < N; i++) x[i] = rnd_uniform(-3.0f, 3.0f);
    for (int b = 0; b < 8; b++) {  // blocks whose values hit exact half steps: amax 127 -> d = 1
        x[b * 32] = 127.0f;
        for (int j = 1; j < 32; j++) x[b * 32 + j] = (float)((int)(rnd() % 254) - 127) + 0.5f;
    }
    for (int j = 0; j < 32; j++) x[8 * 32 + j] = 0.0f;  // zero block
    lr_quantize_row_q8_0_ref(x, ref, N);
    lr_quantize_row_q8_0(x, got, N);
    check(memcmp(ref, got, sizeof ref) == 0, "[%s] quantize_row_q8_0 equals _ref", backend);
}

// ---------------------------------------------------------------------------
// Dot products and mat-muls against the scalar oracle

static void check_dots(const char *backend) {
    static const int lens[] = {32, 64, 96, 576, 1536, 4096};
    static uint8_t w[4096 / 32 * 34];
    static lr_block_q8_0 a[4096 / 32];
    for (size_t ti = 0; ti < 3; ti++) {
        const int type = types[ti];
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int n = lens[li];
            int bad = 0;
            double worst = 0;
            for (int rep = 0; rep < 20; rep++) {
                fill_weights(type, w, n / 32);
                fill_activations(a, n / 32);
                float ref, got;
                scalar_dot(type)(n, &ref, w, a);
                dispatched_dot(type)(n, &got, w, a);
                const double mag = dot_magnitude(type, n, w, a);
                const double exact = dot_exact(type, n, w, a);
                const double err = fabs((double)got - ref) / mag;
                if (err > worst) worst = err;
                if (err > 1e-5 || fabs(ref - exact) > 1e-5 * mag) bad++;
            }
            check(bad == 0, "[%s] vec_dot_%s_q8_0 n=%d: %d of 20 off (worst rel %.2g)", backend, type_name(type), n,
                  bad, worst);
        }
    }
}

static void check_gemm(const char *backend) {
    static const int ks[] = {32, 64, 96, 576, 1536};
    static const int toks[] = {1, 2, 3, 4, 5, 7, 8, 9};
    enum { ROWS = 23, MAXK = 1536, MAXT = 9, LD = 29 };
    static uint8_t w[ROWS * (MAXK / 32) * 34];
    static lr_block_q8_0 a[MAXT * (MAXK / 32)];
    static float out[MAXT * LD], ref[MAXT * LD];
    for (size_t ti = 0; ti < 3; ti++) {
        const int type = types[ti];
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            const int k = ks[ki], nb = k / 32;
            const size_t wrb = (size_t)nb * block_bytes(type), arb = (size_t)nb * sizeof(lr_block_q8_0);
            fill_weights(type, w, ROWS * nb);
            fill_activations(a, MAXT * nb);
            for (size_t tt = 0; tt < sizeof toks / sizeof toks[0]; tt++) {
                const int n_tok = toks[tt];
                // row ranges: all, odd start/end, shorter than a tile, single row
                const int ranges[][2] = {{0, ROWS}, {3, 20}, {5, 7}, {22, 23}, {1, 6}};
                for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
                    const int r0 = ranges[ri][0], r1 = ranges[ri][1];
                    for (int i = 0; i < MAXT * LD; i++) out[i] = ref[i] = -12345.0f;
                    int st = lr_gemm_q8(type, w, wrb, r0, r1, a, arb, n_tok, k, out, LD);
                    int st2 = lr_gemm_q8_scalar(type, w, wrb, r0, r1, a, arb, n_tok, k, ref, LD);
                    int bad = st != 0 || st2 != 0;
                    for (int t = 0; t < MAXT && !bad; t++) {
                        for (int r = 0; r < LD; r++) {
                            const int inside = t < n_tok && r >= r0 && r < r1;
                            const float o = out[t * LD + r], e = ref[t * LD + r];
                            if (!inside) {
                                bad += o != -12345.0f;  // nothing outside the range is written
                                continue;
                            }
                            const double mag = dot_magnitude(type, k, w + (size_t)r * wrb, (const uint8_t *)a + t * arb);
                            bad += fabs((double)o - e) > 1e-5 * mag;
                        }
                    }
                    check(bad == 0, "[%s] gemm %s k=%d n_tok=%d rows [%d,%d): %d bad", backend, type_name(type), k,
                          n_tok, r0, r1, bad);
                }
            }
        }
    }
    // Larger shapes: 70 tokens and k = 4096 cross the token chunk and row tiles; k = 32768 needs
    // more scratch than the stack buffer (heap path).
    static const struct { int R, K, T; } big[] = {{13, 4096, 70}, {5, 32768, 3}};
    for (size_t bi = 0; bi < sizeof big / sizeof big[0]; bi++) {
        const int R = big[bi].R, K = big[bi].K, T = big[bi].T;
        const int nb = K / 32;
        uint8_t *ww = malloc((size_t)R * nb * 34);
        lr_block_q8_0 *aa = malloc((size_t)T * nb * sizeof *aa);
        float *o = malloc((size_t)T * R * sizeof *o), *e = malloc((size_t)T * R * sizeof *e);
        for (size_t ti = 0; ti < 3; ti++) {
            const int type = types[ti];
            const size_t wrb = (size_t)nb * block_bytes(type), arb = (size_t)nb * sizeof *aa;
            fill_weights(type, ww, R * nb);
            fill_activations(aa, T * nb);
            int st = lr_gemm_q8(type, ww, wrb, 0, R, aa, arb, T, K, o, R);
            lr_gemm_q8_scalar(type, ww, wrb, 0, R, aa, arb, T, K, e, R);
            int bad = st != 0;
            for (int t = 0; t < T; t++)
                for (int r = 0; r < R; r++)
                    bad += fabs((double)o[t * R + r] - e[t * R + r]) >
                           1e-5 * dot_magnitude(type, K, ww + (size_t)r * wrb, (const uint8_t *)aa + t * arb);
            check(bad == 0, "[%s] gemm %s k=%d n_tok=%d: %d bad", backend, type_name(type), K, T, bad);
        }
        free(ww), free(aa), free(o), free(e);
    }
    // Argument errors.
    float dummy[4];
    check(lr_gemm_q8(LR_TYPE_IQ4_XS, w, 0, 0, 1, a, 0, 1, 256, dummy, 1) == -1, "[%s] gemm rejects iq4_xs", backend);
    check(lr_gemm_q8(LR_TYPE_Q3_K, w, 110, 0, 1, a, 34, 1, 32, dummy, 1) == -1, "[%s] gemm rejects q3_K with k %% 256 != 0",
          backend);
    check(lr_gemm_q8(LR_TYPE_Q8_0, w, 34, 0, 1, a, 34, 1, 33, dummy, 1) == -1, "[%s] gemm rejects k %% 32 != 0", backend);
    check(lr_gemm_q8(LR_TYPE_Q8_0, w, 34, 2, 1, a, 34, 1, 32, dummy, 1) == -1, "[%s] gemm rejects end < begin", backend);
}

/// Packs `groups` x8 groups of `rows` and unpacks every row again: how many failed to pack or
/// did not come back byte for byte.
static int x8_pack_round_trip(int type, const uint8_t *rows, size_t wrb, int k, int groups, uint8_t *packed,
                              uint8_t *back) {
    const size_t gb = lr_x8_group_bytes(type, k);
    int bad = 0;
    for (int g = 0; g < groups; g++) bad += lr_x8_pack(type, rows + (size_t)g * 8 * wrb, wrb, k, packed + g * gb) != 0;
    for (int r = 0; r < groups * 8 && !bad; r++) {
        bad += lr_x8_unpack_row(type, packed + (r / 8) * gb, r % 8, k, back) != 0;
        bad += memcmp(back, rows + (size_t)r * wrb, wrb) != 0;
    }
    return bad;
}

/// How many of `n_tok` tokens' rows of an x8 int8 mat-mul over all `groups` differ, to the bit,
/// from the same token run alone (batched decoding relies on none). `out` holds n_tok x ld
/// floats, `one` ld.
static int x8_batch_differs_from_alone(int type, const uint8_t *packed, int groups, const lr_block_q8_0 *a,
                                       size_t arb, int n_tok, int k, float *out, float *one, size_t ld) {
    int nbad = lr_gemm_q8_x8(type, packed, 0, groups, a, arb, n_tok, k, out, ld) != 0;
    for (int t = 0; t < n_tok && !nbad; t++) {
        nbad += lr_gemm_q8_x8(type, packed, 0, groups, (const uint8_t *)a + t * arb, arb, 1, k, one, ld) != 0;
        nbad += memcmp(one, out + (size_t)t * ld, (size_t)groups * 8 * sizeof(float)) != 0;
    }
    return nbad;
}

/// Batched decoding equals decoding alone: each token's row of an x8 int8 mat-mul over 1..8
/// tokens is bitwise the row of that token run by itself, whichever kernel the token count and
/// width pick (avx512vnni: the one-stream group kernel for 1 token, and for 2 while their
/// activations fit in L1; pair_kernel otherwise). The runtime's batched forward relies on it.
static void check_x8_batched_equals_alone(const char *backend) {
    static const int ks[] = {64, 576, 1536, 8960};
    enum { GROUPS = 5, ROWS = GROUPS * 8, MAXK = 8960, MAXT = 8, LD = ROWS };
    static uint8_t rows[ROWS * (MAXK / 32) * 34], packed[ROWS * (MAXK / 32) * 34], back[(MAXK / 32) * 34];
    static lr_block_q8_0 a[MAXT * (MAXK / 32)];
    static float out[MAXT * LD], one[LD];
    const int x8_types[] = {LR_TYPE_Q4_0, LR_TYPE_Q4_1, LR_TYPE_Q8_0, LR_TYPE_IQ4_NL, LR_TYPE_Q5_0, LR_TYPE_Q5_1};
    for (int ti = 0; ti < (int)(sizeof x8_types / sizeof x8_types[0]); ti++) {
        const int type = x8_types[ti];
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            const int k = ks[ki], nb = k / 32;
            const size_t wrb = (size_t)nb * block_bytes(type), arb = (size_t)nb * sizeof(lr_block_q8_0);
            fill_weights(type, rows, ROWS * nb);
            fill_activations(a, MAXT * nb);
            check(x8_pack_round_trip(type, rows, wrb, k, GROUPS, packed, back) == 0, "[%s] x8 %s k=%d packs", backend,
                  type_name(type), k);
            for (int n_tok = 1; n_tok <= MAXT; n_tok++) {
                const int nbad = x8_batch_differs_from_alone(type, packed, GROUPS, a, arb, n_tok, k, out, one, LD);
                check(nbad == 0, "[%s] x8 %s k=%d n_tok=%d: each token's row equals it alone, bitwise", backend,
                      type_name(type), k, n_tok);
            }
        }
    }
}

/// The x8 layout: packing round-trips, and every x8 mat-mul (int8 and f32 activations) agrees
/// with its row-layout definition on the same rows, writing nothing outside its groups.
static void check_x8(const char *backend) {
    static const int ks[] = {32, 64, 96, 576, 1536, 8960};
    static const int toks[] = {1, 2, 3, 4, 5, 7, 13, 40};
    enum { GROUPS = 3, ROWS = GROUPS * 8, MAXK = 8960, MAXT = 40, LD = ROWS + 5 };
    static uint8_t rows[ROWS * (MAXK / 32) * 34], packed[ROWS * (MAXK / 32) * 34], back[(MAXK / 32) * 34];
    static lr_block_q8_0 a[MAXT * (MAXK / 32)];
    static float af[MAXT * MAXK];
    static float out[MAXT * LD], ref[MAXT * LD];
    const int x8_types[] = {LR_TYPE_Q4_0, LR_TYPE_Q4_1, LR_TYPE_Q8_0, LR_TYPE_IQ4_NL, LR_TYPE_Q5_0, LR_TYPE_Q5_1};
    for (int ti = 0; ti < (int)(sizeof x8_types / sizeof x8_types[0]); ti++) {
        const int type = x8_types[ti];
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            const int k = ks[ki], nb = k / 32;
            const size_t wrb = (size_t)nb * block_bytes(type), arb = (size_t)nb * sizeof(lr_block_q8_0);
            const size_t gb = lr_x8_group_bytes(type, k);
            check(gb == 8 * wrb, "[%s] x8 %s k=%d: a group takes 8 rows' bytes", backend, type_name(type), k);
            fill_weights(type, rows, ROWS * nb);
            fill_activations(a, MAXT * nb);
            for (int i = 0; i < MAXT * k; i++) af[i] = rnd_uniform(-2.0f, 2.0f);
            check(x8_pack_round_trip(type, rows, wrb, k, GROUPS, packed, back) == 0, "[%s] x8 %s k=%d pack/unpack round trip",
                  backend, type_name(type), k);
            for (size_t tt = 0; tt < sizeof toks / sizeof toks[0]; tt++) {
                const int n_tok = toks[tt];
                const int ranges[][2] = {{0, GROUPS}, {1, 2}, {2, 3}, {1, 1}};
                for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
                    const int g0 = ranges[ri][0], g1 = ranges[ri][1];
                    // f32: 0 int8 x8, 1 f32 x8, then the same two products on the rows as the
                    // file lays them out (the dispatched row-layout kernels, which also run the
                    // rows past a matrix's last group).
                    for (int f32 = 0; f32 < 4; f32++) {
                        const int x8 = f32 < 2, f = f32 & 1;
                        for (int i = 0; i < MAXT * LD; i++) out[i] = ref[i] = -12345.0f;
                        int st, st2;
                        if (f) {
                            st = x8 ? lr_gemm_f32a_x8(type, packed, g0, g1, af, k, n_tok, k, out, LD)
                                    : lr_gemm_f32a(type, rows, wrb, 8 * g0, 8 * g1, af, k, n_tok, k, out, LD);
                            if (st == -1 && lr_gemm_f32a_min_batch() == 0) continue;  // no f32 path here
                            st2 = lr_gemm_f32a_scalar(type, rows, wrb, 8 * g0, 8 * g1, af, k, n_tok, k, ref, LD);
                        } else {
                            st = x8 ? lr_gemm_q8_x8(type, packed, g0, g1, a, arb, n_tok, k, out, LD)
                                    : lr_gemm_q8(type, rows, wrb, 8 * g0, 8 * g1, a, arb, n_tok, k, out, LD);
                            st2 = lr_gemm_q8_scalar(type, rows, wrb, 8 * g0, 8 * g1, a, arb, n_tok, k, ref, LD);
                        }
                        int nbad = st != 0 || st2 != 0;
                        for (int t = 0; t < MAXT && !nbad; t++) {
                            for (int r = 0; r < LD; r++) {
                                const int inside = t < n_tok && r >= 8 * g0 && r < 8 * g1;
                                const float o = out[t * LD + r], e = ref[t * LD + r];
                                if (!inside) {
                                    nbad += o != -12345.0f;
                                    continue;
                                }
                                double mag;
                                if (f) {
                                    float wf[MAXK];
                                    lr_dequantize_row(type, rows + (size_t)r * wrb, wf, k);
                                    mag = 0;
                                    for (int i = 0; i < k; i++) mag += fabs((double)wf[i] * af[t * k + i]);
                                } else {
                                    mag = dot_magnitude(type, k, rows + (size_t)r * wrb, (const uint8_t *)a + t * arb);
                                }
                                nbad += fabs((double)o - e) > 1e-5 * mag;
                            }
                        }
                        check(nbad == 0, "[%s] %s %s %s k=%d n_tok=%d groups [%d,%d): %d bad", backend, x8 ? "x8" : "rows",
                              f ? "f32a" : "q8", type_name(type), k, n_tok, g0, g1, nbad);
                    }
                }
            }
        }
    }
    // Extreme blocks, where integer sums peak: every quant at its largest magnitude of one sign
    // (all bits set or clear; Q8_0 -128, -127 and +127, IQ4_NL's levels -127 and +113), every
    // activation +-127 or -128, all of one sign per token. Random data rarely comes near the
    // int16 bounds the AVX2 sums are planned against, nor the +128 / unsigned x signed operand
    // order of the VNNI kernels (vpdpbusd). Two groups, so 512-bit kernels pair them; the second
    // range runs the odd last group alone.
    for (int ti = 0; ti < (int)(sizeof x8_types / sizeof x8_types[0]); ti++) {
        const int type = x8_types[ti], k = 576, nb = k / 32;
        const size_t bb = block_bytes(type), wrb = (size_t)nb * bb, arb = (size_t)nb * sizeof(lr_block_q8_0);
        const size_t gb = lr_x8_group_bytes(type, k);
        const uint16_t d = lr_f32_to_f16(0.01f);
        const uint8_t fills[] = {type == LR_TYPE_Q8_0 ? 0x81 : type == LR_TYPE_IQ4_NL ? 0x00 : 0xFF,
                                 type == LR_TYPE_Q8_0 ? 0x80 : type == LR_TYPE_IQ4_NL ? 0xFF : 0x00,
                                 type == LR_TYPE_Q8_0 ? 0x7F : 0x88};
        for (size_t fi = 0; fi < sizeof fills; fi++) {
            // Q8_0's -128 is never written by a quantizer (ggml's and ours round to +-127) and lies
            // outside the AVX2 kernels' sign trick (maddubs(|a|, sign(w, a)): -(-128) wraps) and
            // NEON's int16 pair sums (planned for 128 x 127; -128 x -128 twice is 32768).
            if (type == LR_TYPE_Q8_0 && fills[fi] == 0x80 && (strcmp(backend, "avx2") == 0 || strcmp(backend, "neon") == 0))
                continue;
            for (int b = 0; b < 16 * nb; b++) {
                uint8_t *p = rows + (size_t)b * bb;
                memcpy(p, &d, 2);
                memset(p + 2, fills[fi], bb - 2);
                if (type == LR_TYPE_Q4_1 || type == LR_TYPE_Q5_1) memset(p + 2, 0, 2);  // m = 0
            }
            for (int t = 0; t < 4; t++) {
                for (int b = 0; b < nb; b++) {
                    a[t * nb + b].d = lr_f32_to_f16(0.01f);
                    // +127, -127, -128 (never quantized, but a valid int8), +127
                    memset(a[t * nb + b].qs, t == 1 ? 0x81 : t == 2 ? 0x80 : 0x7F, 32);
                }
            }
            lr_x8_pack(type, rows, wrb, k, packed);
            lr_x8_pack(type, rows + 8 * wrb, wrb, k, packed + gb);
            for (int n_tok = 1; n_tok <= 4; n_tok++) {
                for (int g0 = 0; g0 < 2; g0++) {
                    for (int i = 0; i < MAXT * LD; i++) out[i] = ref[i] = 0;
                    int nbad = lr_gemm_q8_x8(type, packed, g0, 2, a, arb, n_tok, k, out, LD) != 0;
                    nbad += lr_gemm_q8_scalar(type, rows, wrb, 8 * g0, 16, a, arb, n_tok, k, ref, LD) != 0;
                    for (int t = 0; t < n_tok; t++)
                        for (int r = 8 * g0; r < 16; r++) {
                            const double e = ref[t * LD + r];
                            // NaN fails too; an all-zero product (Q4_0 / Q5_0 nibble 8 or 16) must be 0
                            nbad += !(fabs((double)out[t * LD + r] - e) <= 1e-5 * fabs(e));
                        }
                    check(nbad == 0, "[%s] x8 %s extreme blocks (fill %02x) n_tok=%d groups [%d,2): %d bad", backend,
                          type_name(type), fills[fi], n_tok, g0, nbad);
                }
            }
        }
    }

    float dummy[8];
    check(lr_gemm_q8_x8(23, packed, 0, 1, a, 34, 1, 256, dummy, 8) == -1, "[%s] x8 rejects iq4_xs", backend);
    check(lr_gemm_q8_x8(LR_TYPE_Q4_K, packed, 0, 1, a, 34, 1, 128, dummy, 8) == -1, "[%s] x8 rejects q4_K k %% 256", backend);
    check(lr_gemm_q8_x8(LR_TYPE_Q4_0, packed, 0, 1, a, 34, 1, 33, dummy, 8) == -1, "[%s] x8 rejects k %% 32", backend);
    check(lr_gemm_q8_x8(LR_TYPE_Q4_0, packed, 2, 1, a, 34, 1, 32, dummy, 8) == -1, "[%s] x8 rejects end < begin", backend);
    check(lr_x8_group_bytes(23, 256) == 0 && lr_x8_pack(23, rows, 0, 256, packed) == -1,
          "[%s] x8 has no iq4_xs layout", backend);
}

/// Bytes of a K-quant super-block.
static size_t kq_block_bytes(int type) {
    switch (type) {
    case LR_TYPE_Q2_K: return sizeof(lr_block_q2_K);
    case LR_TYPE_Q3_K: return sizeof(lr_block_q3_K);
    case LR_TYPE_Q4_K: return sizeof(lr_block_q4_K);
    case LR_TYPE_Q5_K: return sizeof(lr_block_q5_K);
    default: return sizeof(lr_block_q6_K);
    }
}
static const char *kq_name(int type) {
    static const char *names[] = {"q2_K", "q3_K", "q4_K", "q5_K", "q6_K"};
    return names[type - LR_TYPE_Q2_K];
}
typedef void (*kq_dot_fn)(int n, float *s, const void *w, const void *a);
static kq_dot_fn kq_dot(int type) {
    static const kq_dot_fn dots[] = {lr_vec_dot_q2_K_q8_0_scalar, lr_vec_dot_q3_K_q8_0_scalar, lr_vec_dot_q4_K_q8_0_scalar,
                                         lr_vec_dot_q5_K_q8_0_scalar, lr_vec_dot_q6_K_q8_0_scalar};
    return dots[type - LR_TYPE_Q2_K];
}
/// Where a K-quant super-block's f16 d (and Q2_K's, Q4_K's and Q5_K's dmin, 2 bytes on) sits.
static size_t kq_d_at(int type) {
    return type == LR_TYPE_Q6_K ? 208 : type == LR_TYPE_Q2_K ? 80 : type == LR_TYPE_Q3_K ? 108 : 0;
}

/// Random K-quant super-blocks: random scale and quant bytes (every 6-bit scale, min and int8
/// scale occurs), f16 d (and dmin) of a quantizer's size.
static void kq_fill(int type, uint8_t *p, int nsb) {
    const size_t bb = kq_block_bytes(type);
    for (int b = 0; b < nsb; b++, p += bb) {
        for (size_t j = 0; j < bb; j++) p[j] = (uint8_t)rnd();
        const uint16_t d = lr_f32_to_f16(rnd_uniform(0.0005f, 0.01f)), dmin = lr_f32_to_f16(rnd_uniform(0.0f, 0.01f));
        memcpy(p + kq_d_at(type), &d, 2);
        if (type != LR_TYPE_Q6_K && type != LR_TYPE_Q3_K) memcpy(p + kq_d_at(type) + 2, &dmin, 2);
    }
}

/// Sum of |w_i a_i| over a row, the scale a K-quant dot's rounding is measured against.
static double kq_magnitude(int type, int k, const void *w, const void *a) {
    static float wf[16384], af[16384];
    lr_dequantize_row(type, w, wf, k);
    lr_dequantize_row_q8_0(a, af, k);
    double s = 0;
    for (int i = 0; i < k; i++) s += fabs((double)wf[i] * af[i]);
    return s;
}

/// The exact (double) product of a dequantized K-quant row and activation row.
static double kq_exact(int type, int k, const void *w, const void *a) {
    static float wf[16384], af[16384];
    lr_dequantize_row(type, w, wf, k);
    lr_dequantize_row_q8_0(a, af, k);
    double s = 0;
    for (int i = 0; i < k; i++) s += (double)wf[i] * af[i];
    return s;
}

/// K-quants in their own bytes: the scalar row dot against the exact product of the dequantized
/// rows, the x8 layout's round trip, every backend's x8 kernel against the scalar rows (token
/// counts around the tile widths, odd last groups), and extreme blocks: every quant, scale and
/// min at its largest (all bits set), all clear, and the int8 scales at -128, against +-127 and
/// -128 activations (vpdpbusd's unsigned x signed order, maddubs' int16 sums).
static void check_kx8(const char *backend) {
    static const int ks[] = {256, 512, 1536, 4864};
    static const int toks[] = {1, 2, 3, 4, 5, 8, 9, 13, 17};
    enum { GROUPS = 3, ROWS = GROUPS * 8, MAXK = 4864, MAXT = 17, LD = ROWS + 5 };
    static uint8_t rows[ROWS * (MAXK / 256) * 210], packed[ROWS * (MAXK / 256) * 210], back[(MAXK / 256) * 210];
    static lr_block_q8_0 a[MAXT * (MAXK / 32)];
    static float out[MAXT * LD], ref[MAXT * LD];
    const int kq_types[] = {LR_TYPE_Q2_K, LR_TYPE_Q3_K, LR_TYPE_Q4_K, LR_TYPE_Q5_K, LR_TYPE_Q6_K};
    for (size_t ti = 0; ti < sizeof kq_types / sizeof kq_types[0]; ti++) {
        const int type = kq_types[ti];
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            const int k = ks[ki], nsb = k / 256;
            const size_t wrb = (size_t)nsb * kq_block_bytes(type), arb = (size_t)(k / 32) * sizeof(lr_block_q8_0);
            const size_t gb = lr_x8_group_bytes(type, k);
            check(gb == 8 * wrb, "[%s] x8 %s k=%d: a group takes 8 rows' bytes", backend, kq_name(type), k);
            kq_fill(type, rows, ROWS * nsb);
            fill_activations(a, MAXT * (k / 32));
            int bad = 0;
            for (int r = 0; r < 4; r++) {  // the oracle itself
                float got;
                kq_dot(type)(k, &got, rows + r * wrb, a + r);
                const double e = kq_exact(type, k, rows + r * wrb, a + r);
                bad += fabs(got - e) > 1e-5 * kq_magnitude(type, k, rows + r * wrb, a + r);
            }
            check(bad == 0, "[%s] %s k=%d scalar dot vs exact", backend, kq_name(type), k);
            check(x8_pack_round_trip(type, rows, wrb, k, GROUPS, packed, back) == 0, "[%s] x8 %s k=%d pack/unpack round trip",
                  backend, kq_name(type), k);
            for (size_t tt = 0; tt < sizeof toks / sizeof toks[0]; tt++) {
                const int n_tok = toks[tt];
                const int ranges[][2] = {{0, GROUPS}, {1, 2}, {2, 3}, {1, 1}};
                for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
                    const int g0 = ranges[ri][0], g1 = ranges[ri][1];
                    for (int x8 = 0; x8 < 2; x8++) {
                        for (int i = 0; i < MAXT * LD; i++) out[i] = ref[i] = -12345.0f;
                        const int st = x8 ? lr_gemm_q8_x8(type, packed, g0, g1, a, arb, n_tok, k, out, LD)
                                          : lr_gemm_q8(type, rows, wrb, 8 * g0, 8 * g1, a, arb, n_tok, k, out, LD);
                        int nbad = st != 0 || lr_gemm_q8_scalar(type, rows, wrb, 8 * g0, 8 * g1, a, arb, n_tok, k, ref, LD) != 0;
                        for (int t = 0; t < MAXT && !nbad; t++)
                            for (int r = 0; r < LD; r++) {
                                const int inside = t < n_tok && r >= 8 * g0 && r < 8 * g1;
                                const float o = out[t * LD + r], e = ref[t * LD + r];
                                if (!inside) nbad += o != -12345.0f;
                                else nbad += !(fabs((double)o - e) <= 1e-5 * kq_magnitude(type, k, rows + (size_t)r * wrb, (const uint8_t *)a + t * arb));
                            }
                        check(nbad == 0, "[%s] %s q8 %s k=%d n_tok=%d groups [%d,%d): %d bad", backend, x8 ? "x8" : "rows",
                              kq_name(type), k, n_tok, g0, g1, nbad);
                    }
                }
            }
            // A token's results do not depend on the batch it rides in (batched decoding equals the
            // same sequence decoded alone, to the bit): 17 tokens together against each alone.
            static float alone[LD];
            check(x8_batch_differs_from_alone(type, packed, GROUPS, a, arb, MAXT, k, out, alone, LD) == 0, "[%s] x8 %s k=%d: each of %d tokens alone equals it in the batch, to the bit", backend,
                  kq_name(type), k, MAXT);
        }
    }
    for (size_t ti = 0; ti < sizeof kq_types / sizeof kq_types[0]; ti++) {
        const int type = kq_types[ti], k = 1536, nsb = k / 256;
        const size_t bb = kq_block_bytes(type), wrb = (size_t)nsb * bb, arb = (size_t)(k / 32) * sizeof(lr_block_q8_0);
        const size_t gb = lr_x8_group_bytes(type, k);
        const uint16_t d = lr_f32_to_f16(0.01f);
        // all bits set (quants and scales at their largest; Q6_K's int8 scales -1), all clear, Q6_K
        // scales at -128 and +127 with quants at 63 and 0 (-32)
        const uint8_t fills[] = {0xFF, 0x00, 0x80, 0x7F};
        for (size_t fi = 0; fi < sizeof fills; fi++) {
            for (int b = 0; b < 16 * nsb; b++) {
                uint8_t *p = rows + (size_t)b * bb;
                if (type == LR_TYPE_Q6_K) {
                    memset(p, fi >= 2 ? (fi == 2 ? 0xFF : 0x00) : fills[fi], 192);
                    memset(p + 192, fills[fi], 16);
                    memcpy(p + 208, &d, 2);
                } else {  // Q2_K, Q3_K: every quant, scale and min at its largest (0xFF) or smallest
                    memset(p, fills[fi], bb);
                    memcpy(p + kq_d_at(type), &d, 2);
                    if (type != LR_TYPE_Q3_K) memcpy(p + kq_d_at(type) + 2, &d, 2);
                }
            }
            for (int t = 0; t < 4; t++)
                for (int b = 0; b < k / 32; b++) {
                    a[t * (k / 32) + b].d = lr_f32_to_f16(0.01f);
                    memset(a[t * (k / 32) + b].qs, t == 1 ? 0x81 : t == 2 ? 0x80 : 0x7F, 32);
                }
            lr_x8_pack(type, rows, wrb, k, packed);
            lr_x8_pack(type, rows + 8 * wrb, wrb, k, packed + gb);
            for (int n_tok = 1; n_tok <= 4; n_tok++)
                for (int g0 = 0; g0 < 2; g0++) {
                    for (int i = 0; i < MAXT * LD; i++) out[i] = ref[i] = 0;
                    int nbad = lr_gemm_q8_x8(type, packed, g0, 2, a, arb, n_tok, k, out, LD) != 0;
                    nbad += lr_gemm_q8_scalar(type, rows, wrb, 8 * g0, 16, a, arb, n_tok, k, ref, LD) != 0;
                    for (int t = 0; t < n_tok; t++)
                        for (int r = 8 * g0; r < 16; r++) {
                            const double e = ref[t * LD + r];
                            nbad += !(fabs((double)out[t * LD + r] - e) <= 1e-5 * kq_magnitude(type, k, rows + (size_t)r * wrb, (const uint8_t *)a + t * arb));
                        }
                    check(nbad == 0, "[%s] x8 %s extreme blocks (fill %02x) n_tok=%d groups [%d,2): %d bad", backend,
                          kq_name(type), fills[fi], n_tok, g0, nbad);
                }
        }
    }
}

// ---------------------------------------------------------------------------
// Formats decoded per tile (decode_tile.c)

/// Each decoded type: ggml id, name, block bytes, where its f16 scale sits (-1: IQ1_M, whose
/// scale is spread over the top nibbles of its four 16-bit sub-block scales), values a block.
static const struct { int type; const char *name; int bytes, d_at, values; } decoded_types[] = {
    {16, "iq2_xxs", 66, 0, 256},
    {17, "iq2_xs", 74, 0, 256},          {22, "iq2_s", 82, 0, 256},             {18, "iq3_xxs", 98, 0, 256},
    {21, "iq3_s", 110, 0, 256},          {19, "iq1_s", 50, 0, 256},             {29, "iq1_m", 56, -1, 256},
    {34, "tq1_0", 54, 52, 256},          {35, "tq2_0", 66, 64, 256},           {41, "q1_0", 18, 0, 128},
    {42, "q2_0", 18, 0, 64},
};

/// Random super-blocks: random bytes (every grid index, sign, sub-scale and quant occurs), the
/// f16 scale (and Q2_K's dmin) set to a quantizer's size.
static void decoded_fill(int di, uint8_t *p, int nsb) {
    const int bb = decoded_types[di].bytes, at = decoded_types[di].d_at;
    for (int b = 0; b < nsb; b++, p += bb) {
        for (int j = 0; j < bb; j++) p[j] = (uint8_t)rnd();
        const uint16_t d = lr_f32_to_f16(rnd_uniform(0.0005f, 0.01f));
        if (at >= 0) memcpy(p + at, &d, 2);
        else
            for (int i = 0; i < 4; i++) p[48 + 2 * i + 1] = (uint8_t)((p[48 + 2 * i + 1] & 0x0f) | ((d >> (4 * i)) & 0xf) << 4);
        if (decoded_types[di].type == LR_TYPE_Q2_K) {
            const uint16_t dmin = lr_f32_to_f16(rnd_uniform(0.0f, 0.01f));
            memcpy(p + 82, &dmin, 2);
        }
    }
}

/// Matrices decoded per tile: the Q8_0 rows a decode gives lie within half a Q8_0 step of the
/// dequantized values; and lr_gemm_q8 / lr_gemm_f32a on the file's bytes equal, bit for bit,
/// the same product on a Q8_0 copy laid out as a load made it (groups of 8 in x8 where the
/// backend prefers that, the rows past the last group in rows), for whole matrices, a range
/// starting at a later group, and token counts around the tile widths.
static void check_decoded(const char *backend) {
    static const int ks[] = {256, 768, 1536};
    static const int toks[] = {1, 3, 8, 13};
    enum { GROUPS = 3, ROWS = GROUPS * 8 + 5, MAXK = 1536, MAXT = 13, LD = ROWS + 3 };
    static uint8_t w[ROWS * (MAXK / 256) * 110], q8[ROWS * (MAXK / 32) * 34], packed[ROWS * (MAXK / 32) * 34];
    static lr_block_q8_0 a[MAXT * (MAXK / 32)];
    static float af[MAXT * MAXK], out[MAXT * LD], ref[MAXT * LD], vals[MAXK], back[MAXK];
    for (int di = 0; di < (int)(sizeof decoded_types / sizeof decoded_types[0]); di++) {
        const int type = decoded_types[di].type;
        const char *name = decoded_types[di].name;
        check(lr_tile_decode_format(type) == LR_TYPE_Q8_0, "%s decodes per tile to Q8_0", name);
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            const int k = ks[ki], nb = k / 32;
            const int blocks = k / decoded_types[di].values;
            const size_t wrb = (size_t)blocks * decoded_types[di].bytes, qrb = (size_t)nb * 34, arb = qrb;
            decoded_fill(di, w, ROWS * blocks);
            fill_activations(a, MAXT * nb);
            for (int t = 0; t < MAXT; t++) lr_dequantize_row_q8_0(a + t * nb, af + (size_t)t * k, k);
            check(lr_decode_rows_q8_0(type, w, wrb, 0, ROWS, k, q8, vals) == 0, "[%s] %s k=%d decodes", backend, name, k);
            int far = 0, unlike = 0;
            for (int r = 0; r < ROWS; r++) {
                lr_dequantize_row(type, w + r * wrb, vals, k);
                lr_quantize_row_q8_0_ref(vals, packed, k);  // the load-time copy's bytes (not the exact ones')
                const int grid = (type >= 16 && type <= 29) || type == 34 || type == 35 || type == 41 || type == 42;
                unlike += !grid && memcmp(packed, q8 + r * qrb, qrb) != 0;
                lr_dequantize_row_q8_0(q8 + r * qrb, back, k);
                for (int b = 0; b < nb; b++) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(vals[32 * b + j]));
                    // Half a step of the stored (f16) scale, plus the f16 rounding of that scale times the
                    // largest level.
                    const float d = amax / 127.0f, d16 = lr_f16_to_f32(lr_f32_to_f16(d));
                    const float bound = 0.5f * d16 + 127.0f * fabsf(d16 - d);
                    // One scale per 32 values (IQ2_XXS, IQ3_XXS, IQ1_S, IQ3_S): exact to the scale's f16
                    // rounding; TQ1_0, TQ2_0, Q1_0 and Q2_0 keep their own f16 scale, exact.
                    const int one_scale = type == 16 || type == 18 || type == 19 || type == 21;
                    const int exact = type == 34 || type == 35 || type == 41 || type == 42;
                    for (int j = 0; j < 32; j++)
                        far += exact ? back[32 * b + j] != vals[32 * b + j]
                                     : !(fabsf(back[32 * b + j] - vals[32 * b + j]) <=
                                         (one_scale ? fabsf(vals[32 * b + j]) * 0x1p-10f : bound * 1.001f) + 1e-12f);
                }
            }
            check(unlike == 0, "[%s] %s k=%d: %d decoded rows differ from the reference Q8_0 rounding", backend, name, k,
                  unlike);
            check(far == 0, "[%s] %s k=%d: %d decoded values off by more than half a Q8_0 step (and its scale's f16 rounding)", backend, name, k, far);
            // The copy as a load laid it out.
            const int x8 = lr_x8_preferred(LR_TYPE_Q8_0);
            if (x8)
                for (int g = 0; g < GROUPS; g++) lr_x8_pack(LR_TYPE_Q8_0, q8 + (size_t)g * 8 * qrb, qrb, k, packed + (size_t)g * 8 * qrb);
            for (int f32a = 0; f32a <= (lr_gemm_f32a_min_batch() > 0); f32a++) {
                for (size_t ti = 0; ti < sizeof toks / sizeof toks[0]; ti++) {
                    const int n = toks[ti];
                    for (int r0 = 0; r0 <= 8; r0 += 8) {
                        for (int i = 0; i < MAXT * LD; i++) out[i] = ref[i] = -7.0f;
                        int st = f32a ? lr_gemm_f32a(type, w, wrb, r0, ROWS, af, k, n, k, out, LD)
                                      : lr_gemm_q8(type, w, wrb, r0, ROWS, a, arb, n, k, out, LD);
                        const int g0 = r0 / 8;
                        if (x8) {
                            st |= f32a ? lr_gemm_f32a_x8(LR_TYPE_Q8_0, packed, g0, GROUPS, af, k, n, k, ref, LD)
                                       : lr_gemm_q8_x8(LR_TYPE_Q8_0, packed, g0, GROUPS, a, arb, n, k, ref, LD);
                        } else {
                            st |= f32a ? lr_gemm_f32a(LR_TYPE_Q8_0, q8, qrb, r0, GROUPS * 8, af, k, n, k, ref, LD)
                                       : lr_gemm_q8(LR_TYPE_Q8_0, q8, qrb, r0, GROUPS * 8, a, arb, n, k, ref, LD);
                        }
                        st |= f32a ? lr_gemm_f32a(LR_TYPE_Q8_0, q8, qrb, GROUPS * 8, ROWS, af, k, n, k, ref, LD)
                                   : lr_gemm_q8(LR_TYPE_Q8_0, q8, qrb, GROUPS * 8, ROWS, a, arb, n, k, ref, LD);
                        check(st == 0 && memcmp(out, ref, sizeof out) == 0,
                              "[%s] %s k=%d n_tok=%d rows %d..%d%s: decoded per tile equals the Q8_0 copy bitwise", backend,
                              name, k, n, r0, ROWS, f32a ? " (f32 activations)" : "");
                    }
                }
            }
        }
    }
}

/// The per-256 activations of the ternary formats against ggml's quantize_row_q8_K_ref, written
/// out here: the signed extreme maps to -127, others by the float-magic nearest-even rounding.
static void check_q8_k256(void) {
    enum { N = 768 };
    static float x[N];
    static lr_block_q8_0 y[N / 32];
    for (int rep = 0; rep < 200; rep++) {
        const float scale = rnd_uniform(1e-3f, 50.0f);
        for (int i = 0; i < N; i++) x[i] = rnd_uniform(-scale, scale);
        if (rep % 3 == 1) x[rnd() % N] = 4 * scale;    // a positive extreme
        if (rep % 3 == 2) x[rnd() % N] = -4 * scale;   // a negative one
        if (rep == 5) memset(x + 256, 0, 256 * sizeof(float));  // an all-zero super-block
        lr_quantize_row_q8_0_k256(x, y, N);
        int bad = 0;
        for (int s = 0; s < N / 256; s++) {
            float amax = 0, max = 0;
            for (int j = 0; j < 256; j++)
                if (amax < fabsf(x[256 * s + j])) { amax = fabsf(x[256 * s + j]); max = x[256 * s + j]; }
            const float iscale = amax == 0 ? 0 : -127.0f / max;
            const uint16_t d = lr_f32_to_f16(amax == 0 ? 0 : 1 / iscale);
            for (int j = 0; j < 256; j++) {
                const float p = iscale * x[256 * s + j];  // two statements: no contraction into an FMA
                float v = p + 12582912.0f;
                int32_t iv;
                memcpy(&iv, &v, 4);
                int q = (iv & 0x007fffff) - 0x00400000;
                q = q > 127 ? 127 : q;
                const lr_block_q8_0 *b = &y[s * 8 + j / 32];
                bad += b->qs[j % 32] != q || b->d != d;
            }
        }
        check(bad == 0, "q8_0 k256 activations (rep %d): %d values differ from ggml's Q8_K rounding", rep, bad);
    }
}

/// The attention kernel against its definition: scores (probabilities after) and output, for
/// head sizes on and off the SIMD paths, position counts around the 8-wide steps, rows wider
/// than the head, and scores spread wide enough that most probabilities underflow.
static void check_attention(const char *backend) {
    static const int ds[] = {8, 36, 64, 80, 128, 256};
    static const int ns[] = {1, 3, 7, 8, 9, 16, 100, 2049};
    enum { MAXN = 2049, MAXD = 256, STRIDE = 3 * MAXD };
    static uint16_t k[MAXN * STRIDE], v[MAXN * STRIDE];
    static float q[MAXD], scores[MAXN], ref_scores[MAXN], out[MAXD + 1], ref[MAXD];
    for (int i = 0; i < MAXN * STRIDE; i++) {
        k[i] = lr_f32_to_f16(rnd_uniform(-1.0f, 1.0f));
        v[i] = lr_f32_to_f16(rnd_uniform(-1.0f, 1.0f));
    }
    for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            for (int sharp = 0; sharp < 2; sharp++) {
                const int d = ds[di], n = ns[ni];
                const float scale = sharp ? 40.0f : 1.0f / sqrtf((float)d);
                for (int i = 0; i < d; i++) q[i] = rnd_uniform(-1.0f, 1.0f);
                out[d] = -12345.0f;
                lr_attend_f16(q, k + d, v + d, STRIDE, n, d, scale, scores, out);
                lr_attend_f16_scalar(q, k + d, v + d, STRIDE, n, d, scale, ref_scores, ref);
                // A score's rounding grows with scale * sum |q_i k_i|; e^score carries it into
                // the probabilities relatively.
                double m = 0;
                for (int s = 0; s < n; s++) {
                    double t = 0;
                    for (int i = 0; i < d; i++) t += fabs(q[i] * lr_f16_to_f32(k[d + (size_t)s * STRIDE + i]));
                    if (t * scale > m) m = t * scale;
                }
                const float f = 1.0f + (float)m / 10.0f;
                int bad = out[d] != -12345.0f;
                double psum = 0;
                for (int s = 0; s < n; s++) {
                    bad += fabsf(scores[s] - ref_scores[s]) > 2e-5f * f * fmaxf(ref_scores[s], 1e-3f);
                    psum += scores[s];
                }
                bad += fabs(psum - 1.0) > 1e-4;
                for (int i = 0; i < d; i++) bad += fabsf(out[i] - ref[i]) > 1e-4f * f;
                check(bad == 0, "[%s] attention d=%d n=%d scale=%g: %d bad", backend, d, n, scale, bad);
            }
        }
    }
}

static void check_glu(const char *backend) {
    enum { N = 4099 };
    static float g[N], u[N], out[N];
    static const float edges[] = {0.0f, -0.0f, 1e-20f, -1e-20f, 86.9f, -86.9f, 87.5f, -87.5f, 88.5f, -88.5f,
                                  100.0f, -100.0f, 1e4f, -1e4f, 1e25f, -1e25f};
    const int n_edges = (int)(sizeof edges / sizeof edges[0]);
    for (int i = 0; i < N; i++) {
        g[i] = i < n_edges ? edges[i] : i % 4 == 0 ? rnd_uniform(-30, 30) : rnd_uniform(-4, 4);
        u[i] = rnd_uniform(-2, 2);
    }
    static const int lens[] = {1, 7, 8, 9, 17, N};
    for (int kind = 0; kind < 2; kind++) {
        int bad = 0;
        double worst = 0;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int n = lens[li];
            memcpy(out, g, sizeof g);
            if (kind == 0) lr_swiglu(out, u, n);
            else lr_geglu(out, u, n);
            for (int i = 0; i < N; i++) {
                const double x = g[i];
                double want = x;  // past n: untouched
                if (i < n && kind == 0) want = x / (1.0 + exp(-x)) * u[i];
                if (i < n && kind == 1) {
                    const double t = -2.0 * 0.7978845608028654 * (x + 0.044715 * x * x * x);
                    // where x^3 overflows the reference the limit is 0 (x < 0) or x u (x > 0)
                    want = isfinite(t) ? x / (1.0 + exp(t)) * u[i] : x > 0 ? x * u[i] : 0.0;
                }
                const double tol = 1e-6 * fabs(want) + (kind == 1 && i < n ? 1e-7 * fabs(x * u[i]) : 0.0) + 1e-30;
                const double err = fabs((double)out[i] - want);
                if (!(err <= tol)) {
                    if (bad < 3) printf("  [%s] %s g=%g u=%g: %.9g, want %.9g\n", backend, kind ? "geglu" : "swiglu",
                                        g[i], u[i], out[i], want);
                    bad++;
                }
                if (i < n && fabs(want) > 1e-30 && err / fabs(want) > worst) worst = err / fabs(want);
            }
        }
        check(bad == 0, "[%s] %s: %d values off (worst relative error %.2g)", backend, kind ? "geglu" : "swiglu", bad,
              worst);
    }
}

static void check_dispatch(void) {
    lr_kernels_init();
    lr_kernels_init();
    const char *best = lr_kernels_backend();
    check(best != NULL && *best, "backend has a name");
    check(lr_kernels_force("scalar") == 0 && strcmp(lr_kernels_backend(), "scalar") == 0, "force scalar");
    check(lr_kernels_force("no-such-backend") == -1 && strcmp(lr_kernels_backend(), "scalar") == 0,
          "force unknown keeps the current backend");
    check(lr_kernels_force("auto") == 0 && strcmp(lr_kernels_backend(), best) == 0, "force auto restores the best");
#if defined(__x86_64__)
    check(lr_kernels_force("neon") == -1, "neon unavailable on x86");
#endif
#if defined(__aarch64__)
    check(lr_kernels_force("avx2") == -1, "avx2 unavailable on aarch64");
    check(strcmp(best, "neon") == 0 || strcmp(best, "neon+dotprod") == 0, "aarch64 picks a neon backend");
#endif
    lr_kernels_force("auto");
}

// ---------------------------------------------------------------------------
// Benchmark

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    int type, rows, k, n_tok, r0, r1, x8;
    const void *w, *a;
    float *out;
} bench_job;

static void run_job(const bench_job *j) {
    const int nb = j->k / 32;
    if (j->x8) {
        lr_gemm_q8_x8(j->type, j->w, j->r0 / 8, j->r1 / 8, j->a, (size_t)nb * 34, j->n_tok, j->k, j->out, (size_t)j->rows);
        return;
    }
    lr_gemm_q8(j->type, j->w, (size_t)nb * block_bytes(j->type), j->r0, j->r1, j->a, (size_t)nb * 34, j->n_tok, j->k,
               j->out, (size_t)j->rows);
}

// A second thread that spins waiting for work, like a persistent pool: thread start-up
// would otherwise swamp the small mat-vecs being timed.
static bench_job helper_job;
static _Atomic int helper_gen, helper_done, helper_quit;

static void *helper_main(void *unused) {
    (void)unused;
    int seen = 0;  // bench_one resets the generation to 0 before starting this thread
    for (;;) {
        int g;
        while ((g = atomic_load(&helper_gen)) == seen)
            if (atomic_load(&helper_quit)) return NULL;
        seen = g;
        run_job(&helper_job);
        atomic_store(&helper_done, g);
    }
}

static void bench_one(int type, int rows, int k, int n_tok, int threads, int x8) {
    const int nb = k / 32;
    const size_t wbytes = (size_t)rows * nb * block_bytes(type);
    uint8_t *w = malloc(wbytes);
    lr_block_q8_0 *a = malloc((size_t)n_tok * nb * sizeof *a);
    float *out = malloc((size_t)n_tok * rows * sizeof *out);
    fill_weights(type, w, rows * nb);
    fill_activations(a, n_tok * nb);
    if (x8) {  // rows is a multiple of 16 in every case
        uint8_t *packed = malloc(wbytes);
        const size_t gb = lr_x8_group_bytes(type, k);
        for (int g = 0; g < rows / 8; g++) lr_x8_pack(type, w + g * gb, gb / 8, k, packed + g * gb);
        free(w);
        w = packed;
    }
    const int split = threads == 2 ? rows / 2 : rows;
    const bench_job mine = {type, rows, k, n_tok, 0, split, x8, w, a, out};
    helper_job = (bench_job){type, rows, k, n_tok, split, rows, x8, w, a, out};
    // The helper spins while it waits, so it only exists for two-thread runs (spinning beside a
    // single-threaded run would take a core from it).
    pthread_t helper;
    if (threads == 2) {
        atomic_store(&helper_quit, 0);
        atomic_store(&helper_gen, 0);
        atomic_store(&helper_done, 0);
        pthread_create(&helper, NULL, helper_main, NULL);
    }
    // Repeat until ~0.5 s and at least 5 runs; report the best run (the machine may be shared).
    double best = 1e30, total = 0;
    int reps = 0;
    while (total < 0.5 || reps < 5) {
        const double t0 = now();
        const int g = reps + 1;
        if (threads == 2) atomic_store(&helper_gen, g);
        run_job(&mine);
        if (threads == 2)
            while (atomic_load(&helper_done) != g) {}
        const double dt = now() - t0;
        if (dt < best) best = dt;
        total += dt;
        reps++;
    }
    if (threads == 2) {
        atomic_store(&helper_quit, 1);
        pthread_join(helper, NULL);
    }
    printf("  %-5s%s %6d x %-5d n_tok=%-3d threads=%d  %9.1f us  %7.2f GB/s weights  %7.2f GMAC/s\n", type_name(type),
           x8 ? "x8" : "  ", rows, k, n_tok, threads, best * 1e6, wbytes / best * 1e-9, (double)rows * k * n_tok / best * 1e-9);
    free(w), free(a), free(out);
}

static void bench(void) {
    // The SmolLM2-135M shapes: FFN down (576 x 1536), FFN gate/up (1536 x 576), output (49152 x 576);
    // one token (decode, mat-vec), four (four sequences decoding together) and 32 (prefill,
    // mat-mat). Two threads split the rows in halves.
    static const struct { int rows, k, n_tok, threads; } cases[] = {
        {576, 1536, 1, 1}, {576, 1536, 32, 1}, {1536, 576, 1, 1}, {1536, 576, 32, 1},
        {49152, 576, 1, 1}, {49152, 576, 1, 2}, {49152, 576, 32, 1}, {49152, 576, 32, 2},
        {1536, 576, 4, 1}, {49152, 576, 4, 1}, {49152, 576, 4, 2},  // a server's batched decode step
    };
    printf("bench (backend %s; best of repeated runs, single-threaded unless noted)\n", lr_kernels_backend());
    for (size_t ti = 0; ti < 3; ti++)
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            bench_one(types[ti], cases[ci].rows, cases[ci].k, cases[ci].n_tok, cases[ci].threads, 0);
            bench_one(types[ti], cases[ci].rows, cases[ci].k, cases[ci].n_tok, cases[ci].threads, 1);
        }
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)  // IQ4_NL runs in x8 only
        bench_one(LR_TYPE_IQ4_NL, cases[ci].rows, cases[ci].k, cases[ci].n_tok, cases[ci].threads, 1);
    // Activation quantization, and one head's attention over 2048 cached positions, for scale.
    enum { N = 1536, POS = 2048, HD = 64 };
    static float x[N], scores[POS], out[HD];
    static lr_block_q8_0 q[N / 32];
    static uint16_t kv[POS * HD];
    for (int i = 0; i < N; i++) x[i] = rnd_uniform(-1, 1);
    for (int i = 0; i < POS * HD; i++) kv[i] = lr_f32_to_f16(rnd_uniform(-1, 1));
    double t0 = now();
    for (int i = 0; i < 20000; i++) lr_quantize_row_q8_0(x, q, N);
    printf("  quantize_row_q8_0 n=%d: %.2f us\n", N, (now() - t0) / 20000 * 1e6);
    t0 = now();
    for (int i = 0; i < 2000; i++) lr_attend_f16(x, kv, kv, HD, POS, HD, 0.125f, scores, out);
    printf("  attend_f16 d=%d n=%d: %.2f us\n", HD, POS, (now() - t0) / 2000 * 1e6);
}

int main(int argc, char **argv) {
    int do_bench = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bench") == 0) do_bench = 1;
        else {
            fprintf(stderr, "usage: %s [--bench]\n", argv[0]);
            return 64;
        }
    }
    lr_kernels_init();
    const char *best = lr_kernels_backend();
    printf("CPU backend: %s\n", best);

    check_dispatch();
    check_f16();
    check_dequant();
    check_quantize();

    const char *tested[8] = {"scalar"};
    int n_tested = 1;
    for (size_t i = 0; i < sizeof simd_backends / sizeof simd_backends[0]; i++)
        if (lr_kernels_force(simd_backends[i]) == 0) tested[n_tested++] = simd_backends[i];
    for (int i = 0; i < n_tested; i++) {
        lr_kernels_force(tested[i]);
        printf("checking backend %s\n", tested[i]);
        check_rows(tested[i]);
        check_quantize_q8_0_fast(tested[i]);
        check_dots(tested[i]);
        check_gemm(tested[i]);
        check_x8(tested[i]);
        check_x8_batched_equals_alone(tested[i]);
        check_kx8(tested[i]);
        check_decoded(tested[i]);
        if (i == 0) check_q8_k256();
        check_attention(tested[i]);
        check_glu(tested[i]);
    }
    lr_kernels_force("auto");

    if (do_bench) {
        for (int i = n_tested - 1; i >= 1; i--) {
            lr_kernels_force(tested[i]);
            bench();
        }
        lr_kernels_force("auto");
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
