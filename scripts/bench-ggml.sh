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
# A third table sets the whole `sambay-conv quant FILE --generic --pure --to gguf --type T`
# command (process start, reading, checks, error statistics, writing; its user+system CPU time on
# one core, GOMAXPROCS=1) beside ggml's quantizer alone on the same CMD_ROWS×4096 floats already in
# memory, and checks the GGUF holds ggml's bytes.
# usage: scripts/bench-ggml.sh GGML_DIR [ROWS] [ROUNDS] [CMD_ROWS]
#   GGML_DIR: a ggml (or llama.cpp's ggml/) folder holding src/ggml-quants.c and src/ggml-cpu/
set -eu
ggml=$(cd "$1" && pwd); rows=${2:-256}; rounds=${3:-3}; cmdrows=${4:-2048}
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
python3 - "$w" "$rows" "$cmdrows" <<'PY'
import array, json, random, struct, sys
w, rows, cmdrows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(7)
a = array.array("f", (rnd.gauss(0, 0.02) for _ in range(max(rows, cmdrows) * 4096)))
open(f"{w}/x.f32", "wb").write(a[:rows * 4096].tobytes())
b = a[:cmdrows * 4096].tobytes()
open(f"{w}/cmd.f32", "wb").write(b)
hdr = json.dumps({"m.weight": {"dtype": "F32", "shape": [cmdrows, 4096], "data_offsets": [0, len(b)]}}).encode()
hdr += b" " * (-len(hdr) % 8)
with open(f"{w}/cmd.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(hdr)) + hdr + b)
PY
(cd "$root" && go test -c -o "$w/quant.test" ./quant && go build -o "$w/sambay-conv" ./cmd/sambay-conv)
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
  for t in $quants; do
    HARNESS_QUANT=1 HARNESS_OUT="$w/$t.bin" "$w/harness" "$t" "$w/cmd.f32" "$cmdrows" 3 >> "$w/cc.txt"
    rm -f "$w/g.gguf"
    python3 - "$w" "$t" "$cmdrows" >> "$w/gc.txt" <<'PY'
import os, resource, subprocess, sys
w, t, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_CHILDREN)
subprocess.run([f"{w}/sambay-conv", "quant", f"{w}/cmd.safetensors", "--generic", "--pure", "--to", "gguf",
                "--type", t, "-o", f"{w}/g.gguf"], env=dict(os.environ, GOMAXPROCS="1"), check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(t, rows * 4096 * 4 / cpu / 1e6, "%.1f" % (cpu * 1e3))
PY
    cp "$w/g.gguf" "$w/$t.gguf"
  done
done
med() { awk -v t="$1" '$1 == t {print $2}' "$2" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
first() { awk -v t="$1" '$1 == t {print $3; exit}' "$2"; }
printf "quantizers, MB/s of float32 input\n%-6s %10s %10s %7s\n" type ggml Go Go/C
for t in $quants; do
  c=$(med "$t" "$w/cq.txt"); g=$(med "$t" "$w/goq.txt")
  printf "%-6s %10.1f %10.1f %7.2f\n" "$t" "$c" "$g" "$(echo "$g $c" | awk '{print $1/$2}')"
done
printf "\nthe whole quant command (%d×4096), MB/s of float32 input by CPU time\n%-6s %10s %10s %7s %8s  %s\n" "$cmdrows" type "ggml" "Go cmd" Go/C "Go ms" bytes
for t in $quants; do
  c=$(med "$t" "$w/cc.txt"); g=$(med "$t" "$w/gc.txt")
  ms=$(awk -v t="$t" '$1 == t {print $3}' "$w/gc.txt" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  same=$(python3 - "$w/$t.gguf" "$w/$t.bin" <<'PY'
import sys
g, c = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
print("identical" if c and c in g else "DIFFER")
PY
)
  printf "%-6s %10.1f %10.1f %7.2f %8s  %s\n" "$t" "$c" "$g" "$(echo "$g $c" | awk '{print $1/$2}')" "$ms" "$same"
done
printf "\ndot products against a quantized activation, GB/s of weights\n%-6s %10s %10s %7s  %s\n" type ggml Go Go/C "sums (C, Go)"
for t in $dots; do
  c=$(med "$t" "$w/cd.txt"); g=$(med "$t" "$w/god.txt")
  printf "%-6s %10.2f %10.2f %7.2f  %s, %s\n" "$t" "$c" "$g" "$(echo "$g $c" | awk '{print $1/$2}')" "$(first "$t" "$w/cd.txt")" "$(first "$t" "$w/god.txt")"
done
