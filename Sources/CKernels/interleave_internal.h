// Private to CKernels: offsets inside one x8 block column (8 rows' block b), shared by the
// packer and the SIMD kernels; they live with the other per-type facts in type_traits.h.
#ifndef LR_INTERLEAVE_INTERNAL_H
#define LR_INTERLEAVE_INTERNAL_H

#include "type_traits.h"

#endif
