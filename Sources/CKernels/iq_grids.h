// Codebooks of the IQ1_S/IQ1_M, IQ2_XXS/XS/S and IQ3_XXS/S formats (iq_grids.c).
#ifndef LR_IQ_GRIDS_H
#define LR_IQ_GRIDS_H

#include <stdint.h>

extern const uint64_t lr_iq2xxs_grid[256];
extern const uint64_t lr_iq2xs_grid[512];
extern const uint64_t lr_iq2s_grid[1024];
extern const uint32_t lr_iq3xxs_grid[256];
extern const uint32_t lr_iq3s_grid[512];
extern const uint64_t lr_iq1s_grid[2048];

#endif
