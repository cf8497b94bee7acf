package convert

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/internal/testmodel"
)

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
	cfg := testmodel.BenchConfig(gb)
	total := testmodel.WriteSynthetic(b, src, cfg, HFConfigJSON(&cfg, nil, nil), 1<<30)
	// Warm the page cache for both runs alike.
	testmodel.CopyFiles(b, src, filepath.Join(dir, "warm"))
	os.RemoveAll(filepath.Join(dir, "warm"))
	b.SetBytes(total)
	var copyNs, importNs float64
	var peak int64
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		testmodel.CopyFiles(b, src, filepath.Join(dir, "copy"))
		copyNs += float64(time.Since(start).Nanoseconds())
		os.RemoveAll(filepath.Join(dir, "copy"))
		testmodel.ResetPeakRSS()
		start = time.Now()
		out := filepath.Join(dir, "out")
		if _, err := Import(context.Background(), src, ImportOptions{Output: out, Force: true, MaxShardSize: 1 << 30}); err != nil {
			b.Fatal(err)
		}
		importNs += float64(time.Since(start).Nanoseconds())
		if p, ok := testmodel.PeakRSS(); ok {
			peak = max(peak, p)
		}
		os.RemoveAll(out)
	}
	b.ReportMetric(importNs/copyNs, "x-copy-time")
	b.ReportMetric(copyNs/float64(b.N)/1e9, "copy-s")
	b.ReportMetric(float64(peak)/1e6, "peak-RSS-MB")
	b.ReportMetric(float64(total)/1e9, "GB")
}
