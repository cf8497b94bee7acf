#!/bin/sh
# Side by side, one run: the project's quantized dot-product kernels
# (BenchmarkVecDot in quant/) against ggml's x86 CPU kernels
# (ggml_vec_dot_*_q8_*, built from a ggml or llama.cpp checkout with
# -O3 -march=native, as llama.cpp's GGML_NATIVE build compiles ggml-cpu),
# one core each, on the same matrix: ROWS rows of 4096 gaussian values
# quantized by each side's reference quantizer (identical bytes), times
# row 0 as the activation. Prints GB/s of weights (fastest of the
# repetitions), the ratio, and each side's sum of the row results.
# usage: scripts/bench-vecdot.sh GGML_DIR [ROWS] [ROUNDS]
#   GGML_DIR: the folder holding ggml's src/ (ggml-quants.c, ggml-cpu/)
set -eu
ggml=$(cd "$1" && pwd); rows=${2:-256}; rounds=${3:-3}
src=$ggml/src
[ -f "$src/ggml-quants.c" ] || { echo "bench-vecdot: $src/ggml-quants.c not found" >&2; exit 2; }
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
# The reference quantizers as llama.cpp builds ggml-base (no -march: with it gcc would fuse
# multiply-adds and write other bytes than llama-quantize), the CPU kernels as it builds ggml-cpu.
flags="-O3 -DNDEBUG -std=gnu11 -D_GNU_SOURCE -w -I$src -I$src/ggml-cpu -I$ggml/include"
gcc $flags -c "$src/ggml-quants.c" -o "$w/ggml-quants.o"
gcc $flags -march=native "$here/vecdot/harness.c" "$w/ggml-quants.o" "$src/ggml-cpu/quants.c" \
  "$src/ggml-cpu/arch/x86/quants.c" "$w/stubs.c" -lm -o "$w/harness"
python3 - "$w/x.f32" "$rows" <<'PY'
import array, random, sys
rnd = random.Random(7)
n = int(sys.argv[2]) * 4096
open(sys.argv[1], "wb").write(array.array("f", (rnd.gauss(0, 0.02) for _ in range(n))).tobytes())
PY
(cd "$root" && go test -c -o "$w/quant.test" ./quant)
for r in $(seq "$rounds"); do
  SAMBAY_QUANT_INPUT="$w/x.f32" SAMBAY_QUANT_ROWS="$rows" GOMAXPROCS=1 "$w/quant.test" -test.run '^$' \
    -test.bench 'VecDot' -test.benchtime 300x | awk '/^BenchmarkVecDot/ {
      split($1, a, "="); t = tolower(a[2]); sub(/-[0-9]+$/, "", t)
      for (i = 2; i < NF; i++) { if ($(i+1) == "GB/s-best") g = $i; if ($(i+1) == "sum") s = $i }
      print "go", t, g, s }' >> "$w/go.txt"
  for t in q4_0 q5_0 q8_0 q2_k q3_k q4_k q5_k q6_k; do "$w/harness" "$t" "$w/x.f32" "$rows" 300 | awk '{print "c", $1, $2, $3}' >> "$w/c.txt"; done
done
printf "%-6s %10s %10s %7s  %s\n" type "ggml GB/s" "Go GB/s" "Go/C" "sums (C, Go)"
for t in q4_0 q5_0 q8_0 q2_k q3_k q4_k q5_k q6_k; do
  c=$(awk -v t="$t" '$2 == t {print $3}' "$w/c.txt" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  g=$(awk -v t="$t" '$2 == t {print $3}' "$w/go.txt" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  cs=$(awk -v t="$t" '$2 == t {print $4; exit}' "$w/c.txt"); gs=$(awk -v t="$t" '$2 == t {print $4; exit}' "$w/go.txt")
  printf "%-6s %10.2f %10.2f %7.2f  %s, %s\n" "$t" "$c" "$g" "$(echo "$g $c" | awk '{print $1/$2}')" "$cs" "$gs"
done
