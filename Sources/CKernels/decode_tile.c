// Matrices run decoded per tile: kept resident in their file bytes (the IQ1/IQ2/IQ3 codebook
// formats, TQ1_0/TQ2_0, ggml's Q1_0/Q2_0: 1.1-3.4 bits a value), each group of 8 rows decoded at
// mat-mul time into a small scratch in Q8_0 and run through the backend's Q8_0 kernels for every
// token of the batch. Their levels go in as they are where one scale covers 32 values (the IQ
// grids', TQ's, Q1_0/Q2_0's); the two-scale IQ blocks are rounded as a Q8_0 copy would be. Memory
// stays at the file's size. (Q2_K and Q3_K ran so too until they got kx8 kernels: decoding cost
// ~1.3 ns a value a token.)
#include <pthread.h>
#include <stdlib.h>

#include "kernels_internal.h"
#include "type_traits.h"

/// Each thread's scratch, kept between calls (a mat-mul region calls this once per chunk of rows,
/// hundreds of times a token: wide rows would otherwise mmap and unmap each time) and freed when
/// the thread exits.
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local struct { void *p; size_t bytes; } scratch_tls;

static void scratch_free(void *p) { free(p); }
static void scratch_key_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static void *thread_scratch(size_t bytes) {
    if (scratch_tls.bytes >= bytes) return scratch_tls.p;
    pthread_once(&scratch_once, scratch_key_init);
    void *p = malloc(bytes);
    if (!p) return NULL;
    free(scratch_tls.p);
    scratch_tls.p = p;
    scratch_tls.bytes = bytes;
    pthread_setspecific(scratch_key, p);
    return p;
}

int lr_tile_decode_format(int wtype) { return lr_decoded_per_tile(wtype) ? LR_TYPE_Q8_0 : -1; }

int lr_decode_rows_q8_0(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end, int k, void *dst,
                        float *scratch) {
    if (!lr_decoded_per_tile(wtype) || k <= 0 || k % lr_decoded_block_values(wtype) != 0 || row_begin < 0 ||
        row_end < row_begin)
        return -1;
    const size_t rb = (size_t)k / LR_QK * sizeof(lr_block_q8_0);
    for (int r = row_begin; r < row_end; r++) {
        // The grid formats' levels are whole numbers under one scale per 32 values: put as they
        // are, not rounded onto Q8_0's amax/127 steps (which moves IQ3_S's level 1 by 6%).
        if (lr_decode_row_iq_grid_q8_0(wtype, (const uint8_t *)w + (size_t)r * w_row_bytes,
                                       (uint8_t *)dst + (size_t)(r - row_begin) * rb, k) == 0)
            continue;
        if (lr_decode_row_ternary_q8_0(wtype, (const uint8_t *)w + (size_t)r * w_row_bytes,
                                       (uint8_t *)dst + (size_t)(r - row_begin) * rb, k) == 0)
            continue;
        if (lr_decode_row_q1_q2_q8_0(wtype, (const uint8_t *)w + (size_t)r * w_row_bytes,
                                     (uint8_t *)dst + (size_t)(r - row_begin) * rb, k) == 0)
            continue;
        if (lr_dequantize_row(wtype, (const uint8_t *)w + (size_t)r * w_row_bytes, scratch, k) != 0) return -1;
        // The backend's activation quantizer: the reference rounding bit for bit (the kernel
        // check holds it to that), at SIMD speed where the reference's libm calls cost 10 ns a value.
        lr_quantize_row_q8_0(scratch, (uint8_t *)dst + (size_t)(r - row_begin) * rb, k);
    }
    return 0;
}

int lr_gemm_decoded(int wtype, const void *w, size_t w_row_bytes, int row_begin, int row_end, const void *a,
                    size_t a_stride, int f32a, int n_tok, int k, float *out, size_t out_ld) {
    if (!lr_decoded_per_tile(wtype) || k <= 0 || k % lr_decoded_block_values(wtype) != 0 || row_begin < 0 ||
        row_end < row_begin || n_tok < 0)
        return -1;
    if (row_begin == row_end || n_tok == 0) return 0;
    const size_t rb = (size_t)k / LR_QK * sizeof(lr_block_q8_0);
    // Groups of 8 go through the x8 kernels where the backend prefers Q8_0 that way, as the
    // load-time copy was interleaved; a last partial group through the row kernels, as its tail was.
    const int x8 = lr_x8_preferred(LR_TYPE_Q8_0);
    uint8_t *scratch = thread_scratch(16 * rb + (size_t)k * sizeof(float));
    if (!scratch) return -1;
    uint8_t *rows = scratch, *group = scratch + 8 * rb;
    float *values = (float *)(scratch + 16 * rb);
    int status = 0;
    for (int r = row_begin; r < row_end && status == 0; r += 8) {
        const int n = row_end - r < 8 ? row_end - r : 8;
        status = lr_decode_rows_q8_0(wtype, w, w_row_bytes, r, r + n, k, rows, values);
        if (status != 0) break;
        if (n == 8 && x8) {
            lr_x8_pack(LR_TYPE_Q8_0, rows, rb, k, group);
            status = f32a ? lr_gemm_f32a_x8(LR_TYPE_Q8_0, group, 0, 1, (const float *)a, a_stride, n_tok, k, out + r, out_ld)
                          : lr_gemm_q8_x8(LR_TYPE_Q8_0, group, 0, 1, a, a_stride, n_tok, k, out + r, out_ld);
        } else {
            status = f32a ? lr_gemm_f32a(LR_TYPE_Q8_0, rows, rb, 0, n, (const float *)a, a_stride, n_tok, k, out + r, out_ld)
                          : lr_gemm_q8(LR_TYPE_Q8_0, rows, rb, 0, n, a, a_stride, n_tok, k, out + r, out_ld);
        }
    }
    return status;
}
