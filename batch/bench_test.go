package batch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/reference"
)

// rchar is the bytes this process has read through read/pread so far
// (/proc/self/io), or -1 where unknown.
func rchar() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// BenchmarkBatchOnePass measures, in one process on one source, the three
// separate exports `quant` runs (q8_0, q4_k_m, mlx 4-bit) against `batch
// run` of a job with the same targets: wall time, bytes read (rchar) and
// peak RSS of each. The source is Phi-4-mini-flash width with 4 layers
// (about 0.7 GB of bf16); SAMBAY_BENCH_FULLSIZE=1 makes it the release's
// full 32-layer shape (7.7 GB; about 25 GB of disk for source, import and
// outputs).
func BenchmarkBatchOnePass(b *testing.B) {
	var cfg reference.Config
	if os.Getenv("SAMBAY_BENCH_FULLSIZE") == "1" {
		cb, err := os.ReadFile("../testdata/phi4flash-release/config.json")
		if err != nil {
			b.Fatal(err)
		}
		if cfg, _, err = convert.ParseHFConfig(cb); err != nil {
			b.Fatal(err)
		}
	} else {
		cfg = testmodel.BenchConfig(0)
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src", "model")
	os.MkdirAll(src, 0o755)
	size := testmodel.WriteSynthetic(b, src, cfg, convert.HFConfigJSON(&cfg, nil, nil), 5_000_000_000)
	job := filepath.Join(dir, "jobs.yaml")
	os.WriteFile(job, []byte("output: out\nsources: [src/model]\ntargets:\n  - gguf: q8_0\n  - gguf: q4_k_m\n  - mlx: 4\n"), 0o644)
	ctx := context.Background()
	peak := func() float64 {
		p, _ := testmodel.PeakRSS()
		return float64(p) / 1e6
	}
	for b.Loop() {
		// The three separate runs.
		testmodel.ResetPeakRSS()
		r0, start := rchar(), time.Now()
		for _, policy := range []string{"q8_0", "q4_k_m"} {
			if _, err := ggufmodel.Export(ctx, src, ggufmodel.Options{Output: filepath.Join(dir, policy+".gguf"), Policy: policy}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := mlxmodel.Export(ctx, src, mlxmodel.Options{Output: filepath.Join(dir, "mlx"), Bits: 4}); err != nil {
			b.Fatal(err)
		}
		sepS, sepRead, sepPeak := time.Since(start).Seconds(), rchar()-r0, peak()
		// The batch run: import, then the three targets from one read.
		j, err := ReadJob(job)
		if err != nil {
			b.Fatal(err)
		}
		plan, err := MakePlan(j, 1)
		if err != nil {
			b.Fatal(err)
		}
		testmodel.ResetPeakRSS()
		r0, start = rchar(), time.Now()
		sum, err := Run(ctx, plan, RunOptions{ToolVersion: "bench", Force: true})
		if err != nil {
			b.Fatal(err)
		}
		batchS, batchRead, batchPeak := time.Since(start).Seconds(), rchar()-r0, peak()
		imp, _ := readRecord(filepath.Join(plan.RecordDir(plan.Groups[0]), "import.json"))
		targetsS := batchS - imp.Seconds
		b.ReportMetric(sepS, "separate-s")
		b.ReportMetric(batchS, "batch-s")
		b.ReportMetric(targetsS, "batch-targets-s")
		b.ReportMetric(targetsS/sepS, "targets/separate")
		b.ReportMetric(batchS/sepS, "batch/separate")
		b.ReportMetric(float64(sepRead)/float64(size), "separate-read/source")
		b.ReportMetric(float64(batchRead)/float64(size), "batch-read/source")
		b.ReportMetric(float64(sum.ReadBytes)/float64(sum.SourceBytes), "batch-canonical-read/canonical")
		b.ReportMetric(sepPeak, "separate-peak-RSS-MB")
		b.ReportMetric(batchPeak, "batch-peak-RSS-MB")
		b.ReportMetric(float64(sum.PeakHeld)/1e6, "batch-held-MB")
		fmt.Fprintf(os.Stderr, "source %.2f GB: separate %.1f s; batch %.1f s (import %.1f s, targets %.1f s)\n", float64(size)/1e9, sepS, batchS, imp.Seconds, targetsS)
		os.RemoveAll(filepath.Join(dir, "out"))
	}
}
