// Times ggml's x86 CPU dot-product kernels (ggml_vec_dot_<type>_q8_<0|K>, from
// ggml's src/ggml-cpu/arch/x86/quants.c, built with -march=native as llama.cpp's
// GGML_NATIVE build does) over every row of a matrix: the peer of the
// project's BenchmarkVecDot (quant/bench_test.go). The matrix is the input
// file's first ROWS rows of 4096 float32 values quantized by ggml's reference
// quantizers (the bytes the project's quantizers write); the activation is
// row 0 quantized by the CPU backend's quantize_row_q8_0 / q8_K.
// usage: harness TYPE FILE ROWS REPS   (TYPE: q4_0 q5_0 q8_0 q2_k q3_k q4_k q5_k q6_k)
// prints: TYPE GB/s-of-weights (best repetition) and the sum of the row results.
// With HARNESS_QUANT set it times the reference quantizer instead (q4_1 and q5_1 too):
// prints TYPE MB/s-of-float32-input (best repetition) and an FNV-1a hash of the bytes, which
// it writes to the file HARNESS_OUT names, if set.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>
#include "ggml-common.h"
#include "ggml-quants.h"
#include "ggml-cpu/quants.h"

float ggml_table_f32_f16[1 << 16];
float ggml_table_f32_e8m0_half[1 << 8];
float ggml_table_f32_ue4m3[1 << 8];

typedef void (*vec_dot_t)(int, float *, size_t, const void *, size_t, const void *, size_t, int);
typedef void (*quant_t)(const float *, void *, int64_t);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: harness TYPE FILE ROWS REPS\n");
        return 2;
    }
    for (int i = 0; i < 1 << 16; i++) {
        ggml_table_f32_f16[i] = _cvtsh_ss((unsigned short)i);
    }
    const char *type = argv[1];
    const int rows = atoi(argv[3]), reps = atoi(argv[4]), cols = 4096;
    struct {
        const char *name;
        size_t block_bytes;
        int block;
        quant_t quant;
        vec_dot_t dot;
        int k_act;
    } types[] = {
        {"q4_0", sizeof(block_q4_0), QK4_0, quantize_row_q4_0_ref, ggml_vec_dot_q4_0_q8_0, 0},
        {"q4_1", sizeof(block_q4_1), QK4_1, quantize_row_q4_1_ref, NULL, 0},
        {"q5_1", sizeof(block_q5_1), QK5_1, quantize_row_q5_1_ref, NULL, 0},
        {"q5_0", sizeof(block_q5_0), QK5_0, quantize_row_q5_0_ref, ggml_vec_dot_q5_0_q8_0, 0},
        {"q8_0", sizeof(block_q8_0), QK8_0, quantize_row_q8_0_ref, ggml_vec_dot_q8_0_q8_0, 0},
        {"q2_k", sizeof(block_q2_K), QK_K, quantize_row_q2_K_ref, ggml_vec_dot_q2_K_q8_K, 1},
        {"q3_k", sizeof(block_q3_K), QK_K, quantize_row_q3_K_ref, ggml_vec_dot_q3_K_q8_K, 1},
        {"q4_k", sizeof(block_q4_K), QK_K, quantize_row_q4_K_ref, ggml_vec_dot_q4_K_q8_K, 1},
        {"q5_k", sizeof(block_q5_K), QK_K, quantize_row_q5_K_ref, ggml_vec_dot_q5_K_q8_K, 1},
        {"q6_k", sizeof(block_q6_K), QK_K, quantize_row_q6_K_ref, ggml_vec_dot_q6_K_q8_K, 1},
    };
    int t = -1;
    for (int i = 0; i < (int)(sizeof(types) / sizeof(types[0])); i++) {
        if (!strcmp(types[i].name, type)) {
            t = i;
        }
    }
    if (t < 0) {
        fprintf(stderr, "harness: unknown type %s\n", type);
        return 2;
    }
    float *x = malloc((size_t)rows * cols * 4);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(x, 4, (size_t)rows * cols, f) != (size_t)rows * cols) {
        fprintf(stderr, "harness: %s: want %d float32 values\n", argv[2], rows * cols);
        return 1;
    }
    fclose(f);
    const size_t row_bytes = cols / types[t].block * types[t].block_bytes;
    char *w = aligned_alloc(64, row_bytes * rows);
    if (getenv("HARNESS_QUANT")) {
        double best = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            double t0 = now();
            for (int r = 0; r < rows; r++) {
                types[t].quant(x + (size_t)r * cols, w + r * row_bytes, cols);
            }
            double dt = now() - t0;
            if (dt < best) {
                best = dt;
            }
        }
        unsigned long long h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < row_bytes * rows; i++) {
            h = (h ^ (unsigned char)w[i]) * 0x100000001b3ull;
        }
        printf("%s %.1f %016llx\n", type, (double)rows * cols * 4 / best / 1e6, h);
        if (getenv("HARNESS_OUT")) { // the bytes, for a comparison
            FILE *o = fopen(getenv("HARNESS_OUT"), "wb");
            if (!o || fwrite(w, 1, row_bytes * rows, o) != row_bytes * rows || fclose(o)) {
                fprintf(stderr, "harness: writing %s failed\n", getenv("HARNESS_OUT"));
                return 1;
            }
        }
        return 0;
    }
    if (!types[t].dot) {
        fprintf(stderr, "harness: no dot kernel timed for %s\n", type);
        return 2;
    }
    for (int r = 0; r < rows; r++) {
        types[t].quant(x + (size_t)r * cols, w + r * row_bytes, cols);
    }
    void *act = aligned_alloc(64, cols / QK_K * sizeof(block_q8_K) + cols / QK8_0 * sizeof(block_q8_0));
    if (types[t].k_act) {
        quantize_row_q8_K(x, act, cols);
    } else {
        quantize_row_q8_0(x, act, cols);
    }
    float *s = malloc(rows * sizeof(float));
    double best = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        for (int r = 0; r < rows; r++) {
            types[t].dot(cols, &s[r], 0, w + r * row_bytes, 0, act, 0, 1);
        }
        double dt = now() - t0;
        if (dt < best) {
            best = dt;
        }
    }
    double sum = 0;
    for (int r = 0; r < rows; r++) {
        sum += s[r];
    }
    printf("%s %.2f %.6g\n", type, row_bytes * rows / best / 1e9, sum);
    if (getenv("HARNESS_ROWS")) { // the first rows' results, for a closer check
        for (int r = 0; r < rows && r < atoi(getenv("HARNESS_ROWS")); r++) {
            printf("row %d %.9g\n", r, s[r]);
        }
    }
    return 0;
}
