#!/bin/sh
# Side by side, one run: prefill tokens/s of the Go reference (BenchmarkForward/prefill in
# ./reference: hidden 2560, 4 layers, vocabulary 32064, random bf16 weights, 128 tokens, fp32
# numerics, logits of every position, 2 threads) and of the PyTorch reference
# (reference/torch/sambay_ref.py --time) on the same model, written by the benchmark to DIR.
# PyTorch should run on OpenBLAS: Debian's python3-torch calls libblas.so.3, which is netlib's
# unoptimised reference BLAS unless libopenblas0-pthread is installed (apt-get install
# libopenblas0-pthread; `update-alternatives --display libblas.so.3-x86_64-linux-gnu` shows the
# choice). The PyTorch line names the BLAS it loaded. Each side: the fastest of 3 passes per round;
# the medians over ROUNDS interleaved rounds.
# usage: scripts/bench-torch.sh [ROUNDS] [DIR]
set -eu
rounds=${1:-3}
dir=${2:-$(mktemp -d)}
here=$(cd "$(dirname "$0")" && pwd); root=$(dirname "$here")
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
(cd "$root" && go test -c -o "$w/reference.test" ./reference)
ids=$(/usr/bin/python3 -c "print(','.join(str((i*7919+13)%32064) for i in range(128)))")
for r in $(seq "$rounds"); do
  (cd "$root/reference" && SAMBAY_BENCH_DIR="$dir" GOMAXPROCS=2 "$w/reference.test" -test.run '^$' \
    -test.bench 'Forward/prefill' -test.benchtime 3x) |
    awk '/^BenchmarkForward/ { for (i = 2; i < NF; i++) if ($(i+1) == "best-tokens/s") print $i }' >> "$w/go.txt"
  /usr/bin/python3 "$root/reference/torch/sambay_ref.py" "$dir" --mode fp32 --time 3 --threads 2 --tokens "$ids" |
    tee "$w/torch.log" | awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "tokens/s") print $i }' >> "$w/torch.txt"
done
med() { sort -n "$1" | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
g=$(med "$w/go.txt"); t=$(med "$w/torch.txt")
sed 's/.*(fastest/PyTorch (fastest/' "$w/torch.log"
printf "prefill 128 tokens, all logits, 2 threads: Go %s tokens/s, PyTorch %s tokens/s, Go/PyTorch %.2f (medians of %s rounds: Go %s; PyTorch %s)\n" \
  "$g" "$t" "$(echo "$g $t" | awk '{print $1/$2}')" "$rounds" "$(tr '\n' ' ' < "$w/go.txt")" "$(tr '\n' ' ' < "$w/torch.txt")"
