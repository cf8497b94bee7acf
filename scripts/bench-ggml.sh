#!/bin/sh
# Side by side, one run, one core each, the same input: the project's quantizers
# (BenchmarkQuantize) against ggml's reference quantizers (quantize_row_*_ref, built with -O3 and
# no -march, as llama.cpp builds ggml-base, the code llama-quantize runs), and the project's
# quantized dot-product kernels (BenchmarkVecDot) against ggml's x86 CPU kernels
# (ggml_vec_dot_*_q8_*, built with -O3 -march=native as llama.cpp's GGML_NATIVE build compiles
# ggml-cpu). The input is ROWS rows of 4096 gaussian float32 values; for the dot products each
# side quantizes it with its reference quantizer (identical bytes) and takes row 0, quantized, as
# the activation. Figures are medians over ROUNDS interleaved rounds of each side's fastest pass
# (20 for the quantizers, in MB/s of float32 input; 300 for the dot products, in GB/s of weights,
# with each side's sum of the row results).
# usage: scripts/bench-ggml.sh GGML_DIR [ROWS] [ROUNDS]
#   GGML_DIR: a ggml (or llama.cpp's ggml/) folder holding src/ggml-quants.c and src/ggml-cpu/
set -eu
ggml=$(cd "$1" && pwd); rows=${2:-256}; rounds=${3:-3}
src=$ggml/src
[ -f "$src/ggml-quants.c" ] || { echo "bench-ggml: $src/ggml-quants.c not found" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd); root=$(dirname "$here")
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
cat > "$w/stubs.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "ggml.h"
void ggml_abort(const char * file, int line, const char * fmt, ...) { fprintf(stderr, "ggml_abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(enum ggml_type type, int64_t ne) { abort(); }
size_t ggml_type_size(enum ggml_type type) { abort(); }
const char * ggml_type_name(enum ggml_type type) { return "?"; }
C
flags="-O3 -DNDEBUG -std=gnu11 -D_GNU_SOURCE -w -I$src -I$src/ggml-cpu -I$ggml/include"
gcc $flags -c "$src/ggml-quants.c" -o "$w/ggml-quants.o"
gcc $flags -march=native "$here/ggml/harness.c" "$w/ggml-quants.o" "$src/ggml-cpu/quants.c" \
  "$src/ggml-cpu/arch/x86/quants.c" "$w/stubs.c" -lm -o "$w/harness"
python3 - "$w/x.f32" "$rows" <<'PY'
import array, random, sys
rnd = random.Random(7)
n = int(sys.argv[2]) * 4096
open(sys.argv[1], "wb").write(array.array("f", (rnd.gauss(0, 0.02) for _ in range(n))).tobytes())
PY
(cd "$root" && go test -c -o "$w/quant.test" ./quant)
quants="q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k"
dots="q4_0 q5_0 q8_0 q2_k q3_k q4_k q5_k q6_k"
gobench() { # benchmark, metric: lines "type value sum"
  SAMBAY_QUANT_INPUT="$w/x.f32" SAMBAY_QUANT_ROWS="$rows" GOMAXPROCS=1 "$w/quant.test" -test.run '^$' \
    -test.bench "$1" -test.benchtime "$3" | awk -v m="$2" '/^Benchmark/ {
      split($1, a, "="); t = tolower(a[2]); sub(/-[0-9]+$/, "", t); s = "-"
      for (i = 2; i < NF; i++) { if ($(i+1) == m) g = $i; if ($(i+1) == "sum") s = $i }
      print t, g, s }'
}
for r in $(seq "$rounds"); do
  gobench BenchmarkQuantize MB/s-best 20x >> "$w/goq.txt"
  for t in $quants; do HARNESS_QUANT=1 "$w/harness" "$t" "$w/x.f32" "$rows" 20 >> "$w/cq.txt"; done
  gobench BenchmarkVecDot GB/s-best 300x >> "$w/god.txt"
  for t in $dots; do "$w/harness" "$t" "$w/x.f32" "$rows" 300 >> "$w/cd.txt"; done
done
med() { awk -v t="$1" '$1 == t {print $2}' "$2" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
first() { awk -v t="$1" '$1 == t {print $3; exit}' "$2"; }
printf "quantizers, MB/s of float32 input\n%-6s %10s %10s %7s\n" type ggml Go Go/C
for t in $quants; do
  c=$(med "$t" "$w/cq.txt"); g=$(med "$t" "$w/goq.txt")
  printf "%-6s %10.1f %10.1f %7.2f\n" "$t" "$c" "$g" "$(echo "$g $c" | awk '{print $1/$2}')"
done
printf "\ndot products against a quantized activation, GB/s of weights\n%-6s %10s %10s %7s  %s\n" type ggml Go Go/C "sums (C, Go)"
for t in $dots; do
  c=$(med "$t" "$w/cd.txt"); g=$(med "$t" "$w/god.txt")
  printf "%-6s %10.2f %10.2f %7.2f  %s, %s\n" "$t" "$c" "$g" "$(echo "$g $c" | awk '{print $1/$2}')" "$(first "$t" "$w/cd.txt")" "$(first "$t" "$w/god.txt")"
done
