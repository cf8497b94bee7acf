package convert

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/reference"
)

// patternReader serves a repeating buffer of finite values as tensor bytes.
type patternReader []byte

func (p patternReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		o := (off + int64(n)) % int64(len(p))
		n += copy(b[n:], p[o:])
	}
	return n, nil
}

func patterns() (bf16, f32 patternReader) {
	r := rand.New(rand.NewSource(1))
	const n = 4 << 20
	bf16, f32 = make([]byte, 2*n), make([]byte, 4*n)
	for i := 0; i < n; i++ {
		v := float32(r.NormFloat64() * 0.02)
		binary.LittleEndian.PutUint16(bf16[2*i:], formats.Float32ToBF16(v))
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(v))
	}
	return bf16, f32
}

// benchConfig is Phi-4-mini-flash width with fewer layers and a smaller
// vocabulary, sized by layers to about gb gigabytes of bf16.
func benchConfig(gb float64) reference.Config {
	c := reference.Config{NLayer: 4, NEmbd: 2560, NHead: 40, NKVHead: 20, HeadDim: 64, Intermediate: 10240,
		VocabSize: 32768, Window: 512, DState: 16, DConv: 4, Expand: 2, DtRank: 160, Norm: reference.LayerNorm,
		NormEps: 1e-5, DiffAttn: true, QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, MaxPosition: 4096,
		LogitScale: 1, AttnScale: 0.125}
	for float64(c.NumParams())*2 < gb*1e9 {
		c.NLayer += 4
	}
	return c
}

// writeSynthetic writes an HF-layout checkpoint of cfg (bf16, A_log and λ F32).
func writeSynthetic(tb testing.TB, dir string, cfg reference.Config, shard int64) int64 {
	bf, f32 := patterns()
	var ts []formats.Tensor
	for _, s := range cfg.Tensors() {
		dt, src := formats.BF16, bf
		if s.KeepF32 {
			dt, src = formats.F32, f32
		}
		ts = append(ts, formats.NewTensor(s.Name, dt, s.Shape, "synthetic", src))
	}
	res, err := safetensors.WriteModel(dir, ts, safetensors.WriteOptions{MaxShardSize: shard})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), HFConfigJSON(&cfg, nil, nil), 0o644); err != nil {
		tb.Fatal(err)
	}
	return res.TotalSize
}

// copyFiles copies every file of src into dst (fsynced): the baseline an
// import of the same bytes is measured against.
func copyFiles(tb testing.TB, src, dst string) {
	os.MkdirAll(dst, 0o755)
	entries, _ := os.ReadDir(src)
	buf := make([]byte, 1<<20)
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(out, 1<<20)
		if _, err := io.CopyBuffer(w, in, buf); err != nil {
			tb.Fatal(err)
		}
		w.Flush()
		out.Sync()
		out.Close()
		in.Close()
	}
}

// resetPeakRSS resets VmHWM (Linux: writing 5 to clear_refs) and peakRSS
// reads it back, in bytes; both report false where unsupported.
func resetPeakRSS() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

func peakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, true
		}
	}
	return 0, false
}

// BenchmarkImport imports a synthetic ~2 GB bf16 HF checkpoint
// (SAMBAY_BENCH_GB overrides the size) and reports its wall time as a
// multiple of copying the same files, measured in the same run, and the
// peak resident memory of the import.
func BenchmarkImport(b *testing.B) {
	if testing.Short() {
		b.Skip("writes gigabytes; not in -short")
	}
	gb := 2.0
	if s := os.Getenv("SAMBAY_BENCH_GB"); s != "" {
		gb, _ = strconv.ParseFloat(s, 64)
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	cfg := benchConfig(gb)
	total := writeSynthetic(b, src, cfg, 1<<30)
	// Warm the page cache for both runs alike.
	copyFiles(b, src, filepath.Join(dir, "warm"))
	os.RemoveAll(filepath.Join(dir, "warm"))
	b.SetBytes(total)
	var copyNs, importNs float64
	var peak int64
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		copyFiles(b, src, filepath.Join(dir, "copy"))
		copyNs += float64(time.Since(start).Nanoseconds())
		os.RemoveAll(filepath.Join(dir, "copy"))
		resetPeakRSS()
		start = time.Now()
		out := filepath.Join(dir, "out")
		if _, err := Import(context.Background(), src, ImportOptions{Output: out, Force: true, MaxShardSize: 1 << 30}); err != nil {
			b.Fatal(err)
		}
		importNs += float64(time.Since(start).Nanoseconds())
		if p, ok := peakRSS(); ok {
			peak = max(peak, p)
		}
		os.RemoveAll(out)
	}
	b.ReportMetric(importNs/copyNs, "x-copy-time")
	b.ReportMetric(copyNs/float64(b.N)/1e9, "copy-s")
	b.ReportMetric(float64(peak)/1e6, "peak-RSS-MB")
	b.ReportMetric(float64(total)/1e9, "GB")
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
	cfg, _, err := ParseHFConfig(cb)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "canonical")
	os.MkdirAll(src, 0o755)
	writeSynthetic(b, src, cfg, 5_000_000_000)
	for b.Loop() {
		resetPeakRSS()
		start := time.Now()
		g, err := ExportGGUF(context.Background(), src, GGUFOptions{Output: filepath.Join(dir, "m.gguf"), Policy: "q4_k_m"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "q4_k_m-s")
		if p, ok := peakRSS(); ok {
			b.ReportMetric(float64(p)/1e6, "q4_k_m-peak-RSS-MB")
		}
		b.ReportMetric(g.BitsPerWeight, "q4_k_m-bits/weight")
		os.Remove(filepath.Join(dir, "m.gguf"))
		resetPeakRSS()
		start = time.Now()
		m, err := ExportMLX(context.Background(), src, MLXOptions{Output: filepath.Join(dir, "mlx"), Bits: 4})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "mlx4-s")
		if p, ok := peakRSS(); ok {
			b.ReportMetric(float64(p)/1e6, "mlx4-peak-RSS-MB")
		}
		b.ReportMetric(m.BitsPerWeight, "mlx4-bits/weight")
		os.RemoveAll(filepath.Join(dir, "mlx"))
	}
}
