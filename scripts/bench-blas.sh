#!/bin/sh
# Side by side, one run: the reference's matrix product (BenchmarkGEMM in
# reference/internal/kernel: Y[M,N] = X[M,K]·W[N,K]ᵀ, W in bf16 as the model stores it, fp32
# arithmetic) against OpenBLAS's cblas_sgemm on the same shapes in float32 (scripts/blas/sgemm.c,
# linked against the system's libopenblas: Debian's libopenblas0-pthread), on 1 and 2 threads.
# GFLOP/s, the fastest of the repetitions each; medians over ROUNDS interleaved rounds.
# OpenBLAS picks its kernels by CPU model: the header names the family it ran (0.3.21 takes a
# Zen 5 for a Haswell, AVX2). OPENBLAS_CORETYPE=Cooperlake (or SkylakeX) forces its AVX-512
# kernels; SAMBAY_GEMM_TILE=3x3 runs the Go AVX2 kernel where the CPU has AVX-512, for the
# AVX2 against AVX2 comparison.
# usage: scripts/bench-blas.sh [ROUNDS] [SHAPES]   SHAPES: "M,K,N;…" (default: the release's
#   projections 2560×5120, 2560×10240, 10240×2560 at M = 16, 128, 512)
set -eu
rounds=${1:-3}
shapes=${2:-"16,2560,5120;128,2560,5120;512,2560,5120;16,2560,10240;128,2560,10240;512,2560,10240;16,10240,2560;128,10240,2560;512,10240,2560"}
here=$(cd "$(dirname "$0")" && pwd); root=$(dirname "$here")
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
lib=$(ldconfig -p | awk '/libopenblas\.so\.0/ {print $NF; exit}')
[ -n "$lib" ] || { echo "bench-blas: libopenblas.so.0 not found (Debian: apt-get install libopenblas0-pthread)" >&2; exit 2; }
gcc -O2 "$here/blas/sgemm.c" "$lib" -o "$w/sgemm"
(cd "$root" && go test -c -o "$w/kernel.test" ./reference/internal/kernel)
for r in $(seq "$rounds"); do
  SAMBAY_GEMM="$shapes" "$w/kernel.test" -test.run '^$' -test.bench BenchmarkGEMM -test.benchtime 5x |
    awk '/^BenchmarkGEMM/ { split($1, a, /[=,-]/); for (i = 2; i < NF; i++) if ($(i+1) == "GFLOP/s-best") g = $i
      print a[2], a[4], a[6], a[8], g }' >> "$w/go.txt"
  echo "$shapes" | tr ';' '\n' | while IFS=, read -r m k n; do
    for th in 1 2; do "$w/sgemm" "$m" "$k" "$n" "$th" 5 >> "$w/c.txt"; done
  done
done
echo "OpenBLAS kernels: $(awk '{print $6; exit}' "$w/c.txt"); Go micro-kernel: ${SAMBAY_GEMM_TILE:-the CPU's widest}"
printf "%5s %6s %6s %7s %10s %10s %7s\n" M K N threads OpenBLAS Go Go/C
echo "$shapes" | tr ';' '\n' | while IFS=, read -r m k n; do
  for th in 1 2; do
    c=$(awk -v m="$m" -v k="$k" -v n="$n" -v t="$th" '$1 == m && $2 == k && $3 == n && $4 == t {print $5}' "$w/c.txt" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    g=$(awk -v m="$m" -v k="$k" -v n="$n" -v t="$th" '$1 == m && $2 == k && $3 == n && $4 == t {print $5}' "$w/go.txt" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    printf "%5s %6s %6s %7s %10.1f %10.1f %7.2f\n" "$m" "$k" "$n" "$th" "$c" "$g" "$(echo "$g $c" | awk '{print $1/$2}')"
  done
done
