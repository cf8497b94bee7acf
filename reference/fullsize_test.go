package reference_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

func rssAnon() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "RssAnon:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkFullSize runs the real phi4miniflash_d32 shape (3.85 B
// parameters, random bf16 weights, 7.7 GB written to a temp folder and
// mapped): prefill of 128 tokens (the last position's logits, and all
// positions' as sambay_ref.py --time computes them; the fastest pass of
// each), and cached decoding, with the peak anonymous resident memory
// (memory beyond the mapped weights) sampled every 10 ms. With
// SAMBAY_FULLSIZE_DIR set the model is written there, or used from there
// if that folder already holds it, and kept (for the PyTorch comparison in
// README, Performance). Skipped in -short.
func BenchmarkFullSize(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 7.7 GB")
	}
	cb, err := os.ReadFile("../testdata/phi4flash-release/config.json")
	if err != nil {
		b.Fatal(err)
	}
	cfg, _, err := convert.ParseHFConfig(cb)
	if err != nil {
		b.Fatal(err)
	}
	dir := os.Getenv("SAMBAY_FULLSIZE_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		// Shards of 2 GB, as the release: a reader need not hold a whole 7.7 GB file.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		testmodel.WriteSynthetic(b, dir, cfg, cb, 2<<30)
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				if v := rssAnon(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	defer close(stop)
	base := rssAnon()
	m, err := model.Open(dir, reference.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ids := make([]int, 128)
	for i := range ids {
		ids[i] = (i*7919 + 13) % cfg.VocabSize
	}
	prefill, prefillAll := math.Inf(1), math.Inf(1)
	var decode float64
	for b.Loop() {
		start := time.Now()
		if _, err := m.Run(m.NewState(), ids, reference.Want{AllLogits: true}); err != nil {
			b.Fatal(err)
		}
		prefillAll = min(prefillAll, time.Since(start).Seconds())
		st := m.NewState()
		start = time.Now()
		if _, err := m.Run(st, ids, reference.Want{}); err != nil {
			b.Fatal(err)
		}
		prefill = min(prefill, time.Since(start).Seconds())
		start = time.Now()
		const steps = 8
		for i := 0; i < steps; i++ {
			if _, err := m.Run(st, ids[i:i+1], reference.Want{}); err != nil {
				b.Fatal(err)
			}
		}
		decode = time.Since(start).Seconds() / steps
	}
	b.ReportMetric(128/prefill, "prefill-tokens/s")
	b.ReportMetric(128/prefillAll, "prefill-all-logits-tokens/s")
	b.ReportMetric(decode*1e3, "decode-ms/token")
	b.ReportMetric(float64(peak.Load()-base)/1e6, "peak-anon-RSS-MB")
}
