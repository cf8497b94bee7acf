package reference_test

import (
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

type pattern []byte

func (p pattern) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		n += copy(b[n:], p[(off+int64(n))%int64(len(p)):])
	}
	return n, nil
}

// rssAnon returns the process's anonymous resident memory in bytes
// (Linux /proc/self/status RssAnon): resident memory beyond mapped files.
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
	r := rand.New(rand.NewSource(1))
	bf, f32 := make(pattern, 8<<20), make(pattern, 8<<20)
	for i := 0; i < len(bf); i += 2 {
		binary.LittleEndian.PutUint16(bf[i:], formats.Float32ToBF16(float32(r.NormFloat64()*0.02)))
	}
	for i := 0; i < len(f32); i += 4 {
		binary.LittleEndian.PutUint32(f32[i:], 0x3f800000) // A_log = 1, λ = 1
	}
	var ts []formats.Tensor
	for _, s := range cfg.Tensors() {
		src, dt := bf, formats.BF16
		if s.KeepF32 {
			src, dt = f32, formats.F32
		}
		ts = append(ts, formats.NewTensor(s.Name, dt, s.Shape, "pattern", src))
	}
	if _, err := safetensors.WriteModel(dir, ts, safetensors.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), cb, 0o644)
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
