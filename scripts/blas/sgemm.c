// Times OpenBLAS's cblas_sgemm on the model's matrix product Y[M,N] = X[M,K]·W[N,K]ᵀ (row-major, W
// transposed as the model stores it), the peer of BenchmarkGEMM (reference/internal/kernel).
// usage: sgemm M K N THREADS REPS    prints: M K N THREADS GFLOP/s (best repetition) CORE (the kernel
// family OpenBLAS chose, e.g. Haswell, or the one OPENBLAS_CORETYPE forced)
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

// cblas.h's declarations (libopenblas-dev may not be installed; the library is enough).
extern void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float *a,
                        int lda, const float *b, int ldb, float beta, float *c, int ldc);
extern void openblas_set_num_threads(int n);
extern char *openblas_get_corename(void);
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: sgemm M K N THREADS REPS\n");
        return 2;
    }
    int m = atoi(argv[1]), k = atoi(argv[2]), n = atoi(argv[3]), threads = atoi(argv[4]), reps = atoi(argv[5]);
    openblas_set_num_threads(threads);
    float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * (size_t)n * k), *y = malloc(sizeof(float) * (size_t)m * n);
    if (!x || !w || !y) {
        fprintf(stderr, "sgemm: out of memory\n");
        return 1;
    }
    srand(1);
    for (size_t i = 0; i < (size_t)m * k; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)n * k; i++) w[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.04f;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(RowMajor, NoTrans, Trans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%d %d %d %d %.1f %s\n", m, k, n, threads, 2.0 * m * n * k / best / 1e9, openblas_get_corename());
    return 0;
}
