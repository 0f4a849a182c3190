// NEON kernels (aarch64): quantized mat-muls in two flavours and the f32 attention helpers.
//   neon          widening multiplies (SMULL/SMLAL + SADALP): every ARMv8 core, e.g. the Pi 4's A72
//   neon_dotprod  SDOT, 4 int8 products per lane per instruction: ARMv8.2+ cores with asimddp (Pi 5)
#include "gemm_tiling.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#define NEON_RM 4  // rows per tile
#define NEON_RN 2  // tokens per tile

LR_INLINE float neon_f16_to_f32(uint16_t h) {
    __fp16 x;
    memcpy(&x, &h, 2);
    return (float)x;
}

static void neon_prep_acts(const uint8_t *a, size_t a_row_bytes, int tn, int nb, float *da, float *sa) {
    lr_prep_acts_generic(a, a_row_bytes, tn, nb, da, sa, neon_f16_to_f32);
}

static void neon_prep_weights(const uint8_t *w, size_t w_row_bytes, int nr, int nb, int wtype, int stride,
                              float *dw, float *mw) {
    lr_prep_weights_generic(w, w_row_bytes, nr, nb, wtype, stride, dw, mw, neon_f16_to_f32);
}

/// Block dot with widening multiplies: |w*a| <= 127*128, so two products fit an int16 lane.
LR_INLINE int32x4_t idot_mull(int8x16_t wlo, int8x16_t whi, int8x16_t alo, int8x16_t ahi) {
    int16x8_t p0 = vmull_s8(vget_low_s8(wlo), vget_low_s8(alo));
    p0 = vmlal_high_s8(p0, wlo, alo);
    int16x8_t p1 = vmull_s8(vget_low_s8(whi), vget_low_s8(ahi));
    p1 = vmlal_high_s8(p1, whi, ahi);
    return vpadalq_s16(vpaddlq_s16(p0), p1);
}

LR_INLINE LR_TARGET_DOTPROD int32x4_t idot_sdot(int8x16_t wlo, int8x16_t whi, int8x16_t alo, int8x16_t ahi) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), wlo, alo), whi, ahi);
}

#define NT_SUFFIX neon
#define NT_ATTR
#define NT_IDOT idot_mull
#include "dot_neon_tile.h"
#undef NT_SUFFIX
#undef NT_ATTR
#undef NT_IDOT

#define NT_SUFFIX neon_dotprod
#define NT_ATTR LR_TARGET_DOTPROD
#define NT_IDOT idot_sdot
#include "dot_neon_tile.h"
#undef NT_SUFFIX
#undef NT_ATTR
#undef NT_IDOT

#endif
