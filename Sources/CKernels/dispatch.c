// Backend selection: one table of function pointers per backend, chosen once from CPU
// features, and the public entry points that go through it.
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels_internal.h"
#include "type_traits.h"

/// Every x8 kernel format, and those without row-layout SIMD kernels (x8 is their only fast path).
#define LR_X8_ROWLESS (LR_TYPE_BIT(LR_TYPE_IQ4_NL) | LR_TYPE_BIT(LR_TYPE_Q5_0) | LR_TYPE_BIT(LR_TYPE_Q5_1))
#define LR_X8_ALL \
    (LR_X8_ROWLESS | LR_TYPE_BIT(LR_TYPE_Q4_0) | LR_TYPE_BIT(LR_TYPE_Q4_1) | LR_TYPE_BIT(LR_TYPE_Q8_0))
/// The K-quants with x8 kernels (gemm_kx8); their rows past a matrix's last group of 8 run scalar.
#define LR_X8_K                                                                                                 \
    (LR_TYPE_BIT(LR_TYPE_Q2_K) | LR_TYPE_BIT(LR_TYPE_Q3_K) | LR_TYPE_BIT(LR_TYPE_Q4_K) | LR_TYPE_BIT(LR_TYPE_Q5_K) | \
     LR_TYPE_BIT(LR_TYPE_Q6_K))

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdio.h>
#include <stdlib.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#endif

static const lr_kernel_table table_scalar = {
    .name = "scalar",
    .vec_dot_q8_0 = lr_vec_dot_q8_0_q8_0_scalar,
    .vec_dot_q4_0 = lr_vec_dot_q4_0_q8_0_scalar,
    .vec_dot_q4_1 = lr_vec_dot_q4_1_q8_0_scalar,
    .gemm = lr_gemm_q8_scalar,
    .quantize_q8_0 = lr_quantize_row_q8_0_scalar,
    .f16_to_f32_row = lr_f16_to_f32_row_scalar,
    .f32_to_f16_row = lr_f32_to_f16_row_scalar,
    .bf16_to_f32_row = lr_bf16_to_f32_row_scalar,
    .f32_to_bf16_row = lr_f32_to_bf16_row_scalar,
    .attend_f16 = lr_attend_f16_scalar,
    .swiglu = lr_swiglu_scalar,
    .geglu = lr_geglu_scalar,
};

#if defined(__x86_64__)
/// Batches from this size on run faster through lr_gemm_f32a_avx2 than through the int8 tiles.
/// Measured on Zen 2, 1536 x 576 Q8_0, one thread: 0.9x at 8 tokens, 1.26x at 12, 1.5x at 32,
/// 1.8x at 128 (the f32 path also skips quantizing the activations).
#define LR_F32A_MIN_BATCH_AVX2 12

/// The AVX2 entries, shared by the backends built on AVX2 (each adds its own gemm_x8).
#define AVX2_ENTRIES                                       \
    .vec_dot_q8_0 = lr_vec_dot_q8_0_q8_0_avx2,             \
    .vec_dot_q4_0 = lr_vec_dot_q4_0_q8_0_avx2,             \
    .vec_dot_q4_1 = lr_vec_dot_q4_1_q8_0_avx2,             \
    .gemm = lr_gemm_q8_avx2,                               \
    .gemm_f32a = lr_gemm_f32a_avx2,                        \
    .gemm_f32a_x8 = lr_gemm_f32a_x8_avx2,                  \
    .x8_types = LR_X8_ALL | LR_X8_K,                       \
    .gemm_f32a_min_batch = LR_F32A_MIN_BATCH_AVX2,         \
    .cross_tile_f32 = lr_cross_tile_f32_avx2,              \
    .quantize_q8_0 = lr_quantize_row_q8_0_avx2,            \
    .f16_to_f32_row = lr_f16_to_f32_row_f16c,              \
    .f32_to_f16_row = lr_f32_to_f16_row_f16c,              \
    .bf16_to_f32_row = lr_bf16_to_f32_row_avx2,            \
    .f32_to_bf16_row = lr_f32_to_bf16_row_avx2,            \
    .attend_f16 = lr_attend_f16_avx2,                      \
    .swiglu = lr_swiglu_avx2,                              \
    .geglu = lr_geglu_avx2

static const lr_kernel_table table_avx2 = {
    .name = "avx2", AVX2_ENTRIES, .gemm_x8 = lr_gemm_q8_x8_avx2, .gemm_kx8 = lr_gemm_kx8_avx2};

/// AVX-512 VNNI: x8 mat-muls with vpdpbusd at 512 bits, for every batch size (the f32-activation
/// path stays for row-layout weights, the rows past a matrix's last group of 8).
static const lr_kernel_table table_avx512vnni = {
    .name = "avx512vnni",
    AVX2_ENTRIES,
    .gemm_x8 = lr_gemm_q8_x8_avx512vnni,
    .gemm_kx8 = lr_gemm_kx8_avx512vnni,
    .x8_int8_all_batches = 1,
};

static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

/// AVX-512 F, BW, VL and VNNI in cpuid, and the OS saving their state: XCR0 must enable SSE, AVX,
/// the opmask registers and both halves of the upper zmm state (bits 1, 2, 5, 6, 7), or the first
/// zmm instruction faults (a kernel or hypervisor may hide AVX-512 this way).
static int cpu_has_avx512vnni(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 0xe6u) != 0xe6u) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int f = (ebx >> 16) & 1, bw = (ebx >> 30) & 1, vl = (ebx >> 31) & 1, vnni = (ecx >> 11) & 1;
    return f && bw && vl && vnni && cpu_has_avx2();
}
#endif

#if defined(__aarch64__)
/// Whether NEON backends load Q4 weights as x8 (see x8_neon.c for why).
#define NEON_X8_PREFERRED 1
#define NEON_TABLE(NAME, SUFFIX)                                   \
    {                                                              \
        .name = NAME,                                              \
        .vec_dot_q8_0 = lr_vec_dot_q8_0_q8_0_##SUFFIX,             \
        .vec_dot_q4_0 = lr_vec_dot_q4_0_q8_0_##SUFFIX,             \
        .vec_dot_q4_1 = lr_vec_dot_q4_1_q8_0_##SUFFIX,             \
        .gemm = lr_gemm_q8_##SUFFIX,                               \
        .gemm_x8 = lr_gemm_q8_x8_##SUFFIX,                         \
        .gemm_kx8 = lr_gemm_kx8_##SUFFIX,                          \
        .x8_types = (NEON_X8_PREFERRED ? LR_X8_ALL : LR_X8_ROWLESS) | LR_X8_K, \
        .quantize_q8_0 = lr_quantize_row_q8_0_neon,                \
        .f16_to_f32_row = lr_f16_to_f32_row_neon,                  \
        .f32_to_f16_row = lr_f32_to_f16_row_neon,                  \
        .bf16_to_f32_row = lr_bf16_to_f32_row_scalar,              \
        .f32_to_bf16_row = lr_f32_to_bf16_row_scalar,              \
        .attend_f16 = lr_attend_f16_neon,                          \
        .swiglu = lr_swiglu_neon,                                  \
        .geglu = lr_geglu_neon,                                    \
    }
static const lr_kernel_table table_neon = NEON_TABLE("neon", neon);
static const lr_kernel_table table_neon_dotprod = NEON_TABLE("neon+dotprod", neon_dotprod);

static int cpu_has_dotprod(void) {
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    return 1;  // every Apple arm64 core has it
#else
    return 0;
#endif
}
#endif

/// Backends this CPU can run, best first.
static const lr_kernel_table *available[5];
static int n_available;
static _Atomic(const lr_kernel_table *) active;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/// What "auto" restores: the best backend, or the one LLMRUN_BACKEND named.
static const lr_kernel_table *default_table;

static void detect(void) {
    int n = 0;
#if defined(__x86_64__)
    lr_f16_table_init();
    if (cpu_has_avx512vnni()) available[n++] = &table_avx512vnni;
    if (cpu_has_avx2()) available[n++] = &table_avx2;
#endif
#if defined(__aarch64__)
    if (cpu_has_dotprod()) available[n++] = &table_neon_dotprod;
    available[n++] = &table_neon;
#endif
    available[n++] = &table_scalar;
    n_available = n;
    const lr_kernel_table *chosen = available[0];
    // LLMRUN_BACKEND=avx2 (scalar, neon, ...) runs a slower backend, so the paths a faster CPU
    // would skip stay tested; one this CPU lacks is reported and ignored.
    const char *env = getenv("LLMRUN_BACKEND");
    if (env != NULL && *env != 0 && strcmp(env, "auto") != 0) {
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(available[i]->name, env) == 0) chosen = available[i], found = 1;
        if (!found) {
            fprintf(stderr, "llmrun: LLMRUN_BACKEND=%s is not available on this CPU (have:", env);
            for (int i = 0; i < n; i++) fprintf(stderr, " %s", available[i]->name);
            fprintf(stderr, "); using %s\n", chosen->name);
        }
    }
    default_table = chosen;
    atomic_store_explicit(&active, chosen, memory_order_release);
}

void lr_kernels_init(void) { pthread_once(&init_once, detect); }

static const lr_kernel_table *lr_active_table(void) {
    const lr_kernel_table *t = atomic_load_explicit(&active, memory_order_acquire);
    if (__builtin_expect(t == NULL, 0)) {
        lr_kernels_init();
        t = atomic_load_explicit(&active, memory_order_acquire);
    }
    return t;
}

const char *lr_kernels_backend(void) { return lr_active_table()->name; }

int lr_kernels_force(const char *name) {
    lr_kernels_init();
    if (name == NULL) return -1;
    if (strcmp(name, "auto") == 0) {
        atomic_store_explicit(&active, default_table, memory_order_release);
        return 0;
    }
    for (int i = 0; i < n_available; i++) {
        if (strcmp(available[i]->name, name) == 0) {
            atomic_store_explicit(&active, available[i], memory_order_release);
            return 0;
        }
    }
    return -1;
}

// ---------------------------------------------------------------------------
// Dispatched entry points

void lr_vec_dot_q8_0_q8_0(int n, float *s, const void *w, const void *a) {
    lr_active_table()->vec_dot_q8_0(n, s, w, a);
}
void lr_vec_dot_q4_0_q8_0(int n, float *s, const void *w, const void *a) {
    lr_active_table()->vec_dot_q4_0(n, s, w, a);
}
void lr_vec_dot_q4_1_q8_0(int n, float *s, const void *w, const void *a) {
    lr_active_table()->vec_dot_q4_1(n, s, w, a);
}

int lr_gemm_q8(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
               const void *a, size_t a_row_bytes, int n_tok, int k, float *out, size_t out_ld) {
    if (lr_decoded_per_tile(wtype))
        return lr_gemm_decoded(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, 0, n_tok, k, out, out_ld);
    // IQ4_NL, Q5_0 and Q5_1 have SIMD kernels in the x8 layout only: here come rows past a
    // matrix's last group of 8, and every row on backends without x8 kernels (scalar).
    if ((LR_X8_ROWLESS & LR_TYPE_BIT(wtype)) || lr_is_kquant(wtype))
        return lr_gemm_q8_scalar(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld);
    return lr_active_table()->gemm(wtype, w, w_row_bytes, row_begin, row_end, a, a_row_bytes, n_tok, k, out, out_ld);
}

int lr_gemm_f32a(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end,
                 const float *a, size_t a_ld, int n_tok, int k, float *out, size_t out_ld) {
    const lr_kernel_table *t = lr_active_table();
    if (t->gemm_f32a == NULL) return -1;
    if (lr_decoded_per_tile(wtype))
        return lr_gemm_decoded(wtype, w, w_row_bytes, row_begin, row_end, a, a_ld, 1, n_tok, k, out, out_ld);
    // K-quants take the int8 path (lr_gemm_f32a_min_batch_for); this serves a K matrix that shares
    // its input with one of another type that chose f32.
    if (lr_is_kquant(wtype))
        return lr_gemm_f32a_scalar(wtype, w, w_row_bytes, row_begin, row_end, a, a_ld, n_tok, k, out, out_ld);
    return t->gemm_f32a(wtype, w, w_row_bytes, row_begin, row_end, a, a_ld, n_tok, k, out, out_ld);
}

// TQ1_0 / TQ2_0 files are ternary models (BitNet b1.58, TriLM), and llama.cpp multiplies them
// against Q8_K (one activation scale per 256 values): theirs is the rounding such a model's
// figures were taken with, so it is matched here, on the int8 path at every batch size.
int lr_activations_per_256(int wtype) { return wtype == 34 || wtype == 35; }

int lr_gemm_f32a_min_batch(void) {
    const lr_kernel_table *t = lr_active_table();
    return t->gemm_f32a == NULL ? 0 : t->gemm_f32a_min_batch;
}

int lr_gemm_f32a_min_batch_for(int wtype, int x8) {
    const lr_kernel_table *t = lr_active_table();
    if (t->gemm_f32a == NULL) return 0;
    // Measured on Zen 2, 32 tokens, one thread (Tools/check-kernels --bench): x8 int8 runs Q4_0
    // at 90 GMAC/s, about 1.7x the f32 path; Q8_0 at 47, no faster than the row tiles, which the
    // f32 path beats from 12 tokens on. IQ4_NL's int8 tiles multiply as Q8_0's do, after a
    // shuffle: SmolLM2 IQ4_XS, pp128 on 2 threads, 657 / 736 t/s through the f32 path against
    // 589 / 665 through them. Q5_0 multiplies unsigned as Q4_0 does, after a shuffle for the
    // fifth bits: Qwen2.5-0.5B Q4_K_M (132 Q5_0 matrices), pp128 on 2 threads, 309 / 301 t/s
    // through its int8 tiles against 283 / 267 through the f32 path. Q5_1 likewise (Q4_1's sums):
    // Qwen2.5-1.5B requantized to Q5_K_M (Q5_K runs as Q5_1), pp64, 83.3 / 82.8 against 64.8 / 70.6.
    // With VNNI the int8 tiles win at every batch: Zen 5, 1536 x 576, 128 tokens, one thread,
    // 150-170 GMAC/s by type; forced to AVX2 there, the int8 tiles run 43 (IQ4_NL) to 93 (Q4_0)
    // and the f32 path 53 for every type.
    // Decoded per tile: as the Q8_0 groups they become (x8 where the backend prefers Q8_0 so).
    if (lr_activations_per_256(wtype)) return 0;
    if (lr_decoded_per_tile(wtype)) return lr_gemm_f32a_min_batch_for(LR_TYPE_Q8_0, lr_x8_preferred(LR_TYPE_Q8_0));
    if (x8 && t->gemm_x8 != NULL && t->x8_int8_all_batches) return 0;
    if (lr_is_kquant(wtype)) return 0;  // no f32 kernels: their int8 ones read the file's bytes
    if (x8 && t->gemm_x8 != NULL && (wtype == LR_TYPE_Q4_0 || wtype == LR_TYPE_Q4_1 || lr_x8_has_qh(wtype)))
        return 0;
    return t->gemm_f32a_min_batch;
}

void lr_swiglu(float *gate, const float *up, int64_t n) { lr_active_table()->swiglu(gate, up, n); }
void lr_geglu(float *gate, const float *up, int64_t n) { lr_active_table()->geglu(gate, up, n); }

void lr_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n) { lr_active_table()->f16_to_f32_row(src, dst, n); }
void lr_f32_to_f16_row(const float *src, uint16_t *dst, int64_t n) { lr_active_table()->f32_to_f16_row(src, dst, n); }
void lr_bf16_to_f32_row(const uint16_t *src, float *dst, int64_t n) { lr_active_table()->bf16_to_f32_row(src, dst, n); }
void lr_f32_to_bf16_row(const float *src, uint16_t *dst, int64_t n) { lr_active_table()->f32_to_bf16_row(src, dst, n); }

void lr_quantize_row_q8_0(const float *src, void *dst, int64_t n) { lr_active_table()->quantize_q8_0(src, dst, n); }

void lr_attend_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int d, float scale,
                   float *scores, float *out) {
    lr_active_table()->attend_f16(q, k, v, stride, n, d, scale, scores, out);
}

void lr_cross_tile_f32(const float *x, size_t ldx, const float *y, size_t ldy, int rows, int i0, int i1, int j0,
                       int j1, double *out, size_t ldo) {
    const lr_kernel_table *t = lr_active_table();
    if (t->cross_tile_f32) j0 = t->cross_tile_f32(x, ldx, y, ldy, rows, i0, i1, j0, j1, out, ldo);
    if (j0 < j1) lr_cross_tile_f32_portable(x, ldx, y, ldy, rows, i0, i1, j0, j1, out, ldo);
}

// x8 weights: the backend's kernels for the types in its x8_types, the scalar definitions else.

int lr_x8_preferred(int wtype) {
    const lr_kernel_table *t = lr_active_table();
    if (lr_x8_block_bytes(wtype) == 0 || (t->x8_types & LR_TYPE_BIT(wtype)) == 0) return 0;
    return lr_is_kquant(wtype) ? t->gemm_kx8 != NULL : t->gemm_x8 != NULL;
}

int lr_gemm_q8_x8(int wtype, const void *w, int group_begin, int group_end, const void *a, size_t a_row_bytes,
                  int n_tok, int k, float *out, size_t out_ld) {
    if (!lr_x8_preferred(wtype))
        return lr_gemm_q8_x8_scalar(wtype, w, group_begin, group_end, a, a_row_bytes, n_tok, k, out, out_ld);
    if (lr_is_kquant(wtype))
        return lr_active_table()->gemm_kx8(wtype, w, group_begin, group_end, a, a_row_bytes, n_tok, k, out, out_ld);
    return lr_active_table()->gemm_x8(wtype, w, group_begin, group_end, a, a_row_bytes, n_tok, k, out, out_ld);
}

int lr_gemm_f32a_x8(int wtype, const void *w, int group_begin, int group_end, const float *a, size_t a_ld,
                    int n_tok, int k, float *out, size_t out_ld) {
    const lr_kernel_table *t = lr_active_table();
    if (t->gemm_f32a == NULL) return -1;
    if (t->gemm_f32a_x8 == NULL || lr_is_kquant(wtype))
        return lr_gemm_f32a_x8_scalar(wtype, w, group_begin, group_end, a, a_ld, n_tok, k, out, out_ld);
    return t->gemm_f32a_x8(wtype, w, group_begin, group_end, a, a_ld, n_tok, k, out, out_ld);
}
