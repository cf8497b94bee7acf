package pipeline

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

// BenchmarkQuantParity runs the pipeline's quantized targets on a random
// Phi4Flash-style model wide enough for K-quants (E = 512, 8 layers) and
// reports, per target, bits per weight, mean KL divergence against the
// bf16 original, and top-1 agreement over 64 tokens.
func BenchmarkQuantParity(b *testing.B) {
	if testing.Short() {
		b.Skip("quantizes a 60 M-parameter model five times")
	}
	c := reference.Config{NLayer: 8, NEmbd: 512, NHead: 8, NKVHead: 4, HeadDim: 64, Intermediate: 2048, VocabSize: 4096,
		Window: 16, DState: 16, DConv: 4, Expand: 2, DtRank: 32, Norm: reference.LayerNorm, NormEps: 1e-5, DiffAttn: true,
		QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, MaxPosition: 4096, LogitScale: 1, AttnScale: 0.125}
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	testmodel.WriteRandom(b, src, c, convert.HFConfigJSON(&c, nil, nil))
	targets := []Target{{Format: "gguf", Policy: "q8_0"}, {Format: "gguf", Policy: "q6_k"}, {Format: "gguf", Policy: "q4_k_m"},
		{Format: "mlx", Bits: 8}, {Format: "mlx", Bits: 4}}
	for b.Loop() {
		res, err := Run(context.Background(), Options{Source: src, Output: filepath.Join(dir, "out"), Targets: targets})
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range res.Targets {
			name := strings.ReplaceAll(t.Target, ":", "-")
			b.ReportMetric(t.BitsPerWeight, name+"-bits/weight")
			b.ReportMetric(t.Parity.KLDMean, name+"-KL")
			b.ReportMetric(100*t.Parity.Top1Agreement, name+"-top1%")
		}
	}
}

// BenchmarkQuantFullSize exports the real phi4miniflash_d32 shape (3.85 B
// parameters, random bf16 weights, 7.7 GB generated in a temp folder) to a
// Q4_K_M GGUF and to MLX 4-bit, reporting wall time and peak resident
// memory of each. Skipped in -short.
func BenchmarkQuantFullSize(b *testing.B) {
	if testing.Short() {
		b.Skip("writes about 14 GB")
	}
	cb, err := os.ReadFile("../testdata/phi4flash-release/config.json")
	if err != nil {
		b.Fatal(err)
	}
	cfg, _, err := convert.ParseHFConfig(cb)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "canonical")
	os.MkdirAll(src, 0o755)
	testmodel.WriteSynthetic(b, src, cfg, convert.HFConfigJSON(&cfg, nil, nil), 5_000_000_000)
	for b.Loop() {
		testmodel.ResetPeakRSS()
		start := time.Now()
		g, err := ggufmodel.Export(context.Background(), src, ggufmodel.Options{Output: filepath.Join(dir, "m.gguf"), Policy: "q4_k_m"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "q4_k_m-s")
		if p, ok := testmodel.PeakRSS(); ok {
			b.ReportMetric(float64(p)/1e6, "q4_k_m-peak-RSS-MB")
		}
		b.ReportMetric(g.BitsPerWeight, "q4_k_m-bits/weight")
		os.Remove(filepath.Join(dir, "m.gguf"))
		testmodel.ResetPeakRSS()
		start = time.Now()
		m, err := mlxmodel.Export(context.Background(), src, mlxmodel.Options{Output: filepath.Join(dir, "mlx"), Bits: 4})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "mlx4-s")
		if p, ok := testmodel.PeakRSS(); ok {
			b.ReportMetric(float64(p)/1e6, "mlx4-peak-RSS-MB")
		}
		b.ReportMetric(m.BitsPerWeight, "mlx4-bits/weight")
		os.RemoveAll(filepath.Join(dir, "mlx"))
	}
}

// BenchmarkDecode reports decoding ms/token (2 cores, the median of 32
// tokens after 16, best of the -benchtime rounds)
// of one random model, width 2560 and 4 layers (0.52 B parameters), as
// bf16 canonical, as Q8_0 GGUF through the Q8_0 activation (llama.cpp's
// CPU numerics) and through widened rows (--exact-dot), as Q4_K_M GGUF and
// as MLX 4-bit (group 64),
// all in the same run, with the activation path's speedup over the exact
// and each format's time against its bandwidth bound (weight bytes ÷ the
// rate two goroutines copy memory at, measured in the same run).
// SAMBAY_DECODE_SHAPE=full runs the release's phi4miniflash shape instead
// (3.85 B parameters of repeating N(0, 0.02) weights: 7.7 GB of bf16 and
// 6.3 GB of GGUF written to a temp folder), 8 tokens after 16, without the
// exact path. SAMBAY_DECODE_DIR=DIR writes the models into DIR once and
// reuses them on later runs (for profiles: go test -cpuprofile).
func BenchmarkDecode(b *testing.B) {
	if testing.Short() {
		b.Skip("writes a 0.52 B-parameter model and two GGUF files")
	}
	full := os.Getenv("SAMBAY_DECODE_SHAPE") == "full"
	dir := os.Getenv("SAMBAY_DECODE_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	src := filepath.Join(dir, "src")
	_, err := os.Stat(filepath.Join(dir, "q4_k_m.gguf"))
	reuse := err == nil
	os.MkdirAll(src, 0o755)
	c := reference.Config{NLayer: 4, NEmbd: 2560, NHead: 40, NKVHead: 20, HeadDim: 64, Intermediate: 10240, VocabSize: 32064,
		Window: 512, DState: 16, DConv: 4, Expand: 2, DtRank: 160, Norm: reference.LayerNorm, NormEps: 1e-5, DiffAttn: true,
		QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, MaxPosition: 4096, LogitScale: 1, AttnScale: 0.125}
	decode := 32
	if full {
		cb, err := os.ReadFile("../testdata/phi4flash-release/config.json")
		if err != nil {
			b.Fatal(err)
		}
		cfg, _, err := convert.ParseHFConfig(cb)
		if err != nil {
			b.Fatal(err)
		}
		c, decode = cfg, 8
		if !reuse {
			testmodel.WriteSynthetic(b, src, c, cb, 0)
		}
	} else if !reuse {
		testmodel.WriteRandom(b, src, c, convert.HFConfigJSON(&c, nil, nil))
	}
	bytes := map[string]float64{"bf16": float64(2 * c.NumParams())}
	for _, p := range []string{"q8_0", "q4_k_m"} {
		res, err := ggufmodel.Export(context.Background(), src, ggufmodel.Options{Output: filepath.Join(dir, p+".gguf"), Policy: p, DryRun: reuse})
		if err != nil {
			b.Fatal(err)
		}
		bytes[p] = float64(res.TensorBytes)
	}
	mlx := filepath.Join(dir, "mlx4")
	if _, err := os.Stat(mlx); err != nil {
		if _, err := mlxmodel.Export(context.Background(), src, mlxmodel.Options{Output: mlx, Bits: 4, GroupSize: 64}); err != nil {
			b.Fatal(err)
		}
	}
	shards, _ := filepath.Glob(filepath.Join(mlx, "*.safetensors"))
	for _, p := range shards {
		if fi, err := os.Stat(p); err == nil {
			bytes["mlx4"] += float64(fi.Size()) // tensor bytes and a small header
		}
	}
	ids := make([]int, 16+decode)
	for i := range ids {
		ids[i] = (i*7919 + 13) % c.VocabSize
	}
	// msPerToken is the median time of one decoded token.
	msPerToken := func(path string, opts reference.Options) float64 {
		m, err := model.Open(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		st := m.Model.NewState()
		if _, err := m.Model.Run(st, ids[:16], reference.Want{}); err != nil {
			b.Fatal(err)
		}
		var ms []float64
		for _, id := range ids[16:] {
			start := time.Now()
			if _, err := m.Model.Run(st, []int{id}, reference.Want{}); err != nil {
				b.Fatal(err)
			}
			ms = append(ms, float64(time.Since(start).Nanoseconds())/1e6)
		}
		slices.Sort(ms)
		return ms[len(ms)/2]
	}
	// Each round measures the copy rate and every format; the figures are
	// the best round's (the machines are shared: a slower round measures
	// a neighbour).
	best := map[string]float64{}
	keep := func(k string, v float64) {
		if old, ok := best[k]; !ok || v < old {
			best[k] = v
		}
	}
	var rate, read float64
	for b.Loop() {
		rate = max(rate, parallelCopyRate())
		read = max(read, parallelReadRate())
		keep("bf16", msPerToken(src, reference.Options{}))
		keep("q8_0", msPerToken(filepath.Join(dir, "q8_0.gguf"), reference.Options{}))
		keep("q4_k_m", msPerToken(filepath.Join(dir, "q4_k_m.gguf"), reference.Options{}))
		keep("mlx4", msPerToken(mlx, reference.Options{}))
		if !full {
			keep("q8_0-exact", msPerToken(filepath.Join(dir, "q8_0.gguf"), reference.Options{ExactDot: true}))
		}
	}
	for _, f := range []string{"bf16", "q8_0", "q4_k_m", "mlx4"} {
		b.ReportMetric(best[f], f+"-ms/token")
		// The bound: every weight byte read once per token at the rate two
		// goroutines copy memory.
		b.ReportMetric(best[f]/(bytes[f]/rate*1e3), f+"-x-bound")
		// The same at the rate two goroutines read memory (no writes): the
		// stricter bound.
		b.ReportMetric(best[f]/(bytes[f]/read*1e3), f+"-x-read-bound")
	}
	if !full {
		b.ReportMetric(best["q8_0-exact"], "q8_0-exact-ms/token")
		b.ReportMetric(best["q8_0-exact"]/best["q8_0"], "q8_0-x-exact")
	}
	b.ReportMetric(rate/1e9, "memcpy-GB/s")
	b.ReportMetric(read/1e9, "read-GB/s")
}

// parallelCopyRate returns bytes/s of copying a 256 MB buffer with two
// goroutines (one half each), best of three.
func parallelCopyRate() float64 {
	a, d := make([]byte, 256<<20), make([]byte, 256<<20)
	for i := range a {
		a[i] = byte(i)
	}
	h := len(a) / 2
	return float64(len(a)) / halvesBest(func(k int) { copy(d[k*h:(k+1)*h], a[k*h:(k+1)*h]) }) * 1e9
}

// parallelReadRate returns bytes/s of reading a 256 MB buffer with two
// goroutines (one half each, eight independent sums of 8-byte words), best
// of three.
func parallelReadRate() float64 {
	a := make([]uint64, 32<<20)
	for i := range a {
		a[i] = uint64(i)
	}
	var sums [2]uint64
	h := len(a) / 2
	ns := halvesBest(func(k int) {
		var s [8]uint64
		v := a[k*h : (k+1)*h]
		for i := 0; i+8 <= len(v); i += 8 {
			w := v[i : i+8 : i+8]
			s[0] += w[0]
			s[1] += w[1]
			s[2] += w[2]
			s[3] += w[3]
			s[4] += w[4]
			s[5] += w[5]
			s[6] += w[6]
			s[7] += w[7]
		}
		sums[k] = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
	})
	readSink = sums[0] + sums[1] // keeps the sums from being optimised away
	return float64(8*len(a)) / ns * 1e9
}

var readSink uint64

// halvesBest runs half(0) on a second goroutine and half(1) on this one,
// three times, and returns the fastest time in nanoseconds.
func halvesBest(half func(k int)) float64 {
	best := math.Inf(1)
	for range 3 {
		start := time.Now()
		done := make(chan bool)
		go func() { half(0); done <- true }()
		half(1)
		<-done
		best = math.Min(best, float64(time.Since(start).Nanoseconds()))
	}
	return best
}
