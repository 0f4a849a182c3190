// A STREAM-like read test: the memory bandwidth that bounds generation on a large model, where
// every token reads every weight once. Each thread sums its own slice of a buffer far larger
// than the caches, with wide loads and several independent accumulators; the best of several
// passes counts, as in STREAM. Built and run by Tools/membw.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));

typedef struct {
    const v8 *p;
    size_t n;      // vectors
    pthread_barrier_t *start;
    double sum;
} slice;

static void *read_slice(void *arg) {
    slice *s = arg;
    pthread_barrier_wait(s->start);
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    size_t i = 0;
    for (; i + 4 <= s->n; i += 4) {
        a0 += s->p[i]; a1 += s->p[i + 1]; a2 += s->p[i + 2]; a3 += s->p[i + 3];
    }
    v8 a = a0 + a1 + a2 + a3;
    double t = 0;
    for (int k = 0; k < 8; k++) t += a[k];
    s->sum = t;  // kept so the loads are not optimised away
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    int passes = argc > 3 ? atoi(argv[3]) : 10;
    if (mib < 64 || threads < 1 || threads > 256 || passes < 1) {
        fprintf(stderr, "usage: membw [MiB >= 64] [threads] [passes]\n");
        return 64;
    }
    size_t bytes = mib << 20, nvec = bytes / sizeof(v8);
    v8 *buf = aligned_alloc(4096, bytes);
    if (!buf) { fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib); return 71; }
    memset(buf, 1, bytes);  // fault every page in before timing
    double best = 1e30, total = 0;
    for (int pass = 0; pass < passes; pass++) {
        pthread_t tid[256];
        slice sl[256];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, threads + 1);
        size_t per = nvec / threads;
        for (int t = 0; t < threads; t++) {
            sl[t] = (slice){buf + per * t, per, &start, 0};
            pthread_create(&tid[t], NULL, read_slice, &sl[t]);
        }
        pthread_barrier_wait(&start);
        double t0 = now();
        for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
        double dt = now() - t0;
        pthread_barrier_destroy(&start);
        for (int t = 0; t < threads; t++) total += sl[t].sum;
        if (dt < best) best = dt;
    }
    double gbs = (double)(nvec / threads * threads * sizeof(v8)) / best / 1e9;
    printf("{\"buffer_mib\": %zu, \"threads\": %d, \"passes\": %d, \"read_gb_per_s\": %.2f, \"checksum\": %.0f}\n",
           mib, threads, passes, gbs, total > 0 ? 1.0 : 0.0);
    free(buf);
    return 0;
}
