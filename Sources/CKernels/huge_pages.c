// Transparent huge pages for large weight buffers (Linux; a no-op elsewhere).
#if defined(__linux__)
#define _GNU_SOURCE
#include <sys/mman.h>
#endif
#include <stddef.h>
#include <stdint.h>

#include "include/ckernels.h"

int lr_advise_huge_pages(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // madvise wants a page-aligned start; the caller passes a 2 MiB-aligned one.
    if (p == NULL || n == 0 || ((uintptr_t)p & 4095) != 0) return -1;
    return madvise(p, n, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
    return -1;
#endif
}
