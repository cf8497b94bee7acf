package reference_test

import (
	"os"
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
// mapped): prefill of 128 tokens and cached decoding, with the peak
// anonymous resident memory (memory beyond the mapped weights) sampled
// every 10 ms. Skipped in -short.
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
	dir := b.TempDir()
	testmodel.WriteSynthetic(b, dir, cfg, cb, 0)
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
	var prefill, decode float64
	for b.Loop() {
		st := m.NewState()
		start := time.Now()
		if _, err := m.Run(st, ids, reference.Want{}); err != nil {
			b.Fatal(err)
		}
		prefill = time.Since(start).Seconds()
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
	b.ReportMetric(decode*1e3, "decode-ms/token")
	b.ReportMetric(float64(peak.Load()-base)/1e6, "peak-anon-RSS-MB")
}
