package quant

import (
	"runtime"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/ggml"
)

// cRef is ggml's C reference throughput on this machine class in MB/s of
// float32 input, single core (the figures the quantizers are held to).
var cRef = map[ggml.Type]float64{ggml.TypeQ4_0: 3000, ggml.TypeQ8_0: 650, ggml.TypeQ6_K: 100, ggml.TypeQ5_K: 75, ggml.TypeQ4_K: 58, ggml.TypeQ2_K: 72, ggml.TypeQ3_K: 360}

// BenchmarkQuantize reports single-core MB/s of float32 input per type, the
// ratio to ggml's C reference figure, and the 2-core speedup of Quantize
// measured in the same run.
func BenchmarkQuantize(b *testing.B) {
	const rows, cols = 256, 4096
	x := goldenInput(rows * cols)
	for _, g := range goldenTypes {
		b.Run("type="+g.t.String(), func(b *testing.B) {
			dst := make([]byte, rows*g.t.RowBytes(cols))
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				for r := 0; r < rows; r++ {
					QuantizeRow(g.t, dst[r*g.t.RowBytes(cols):], x[r*cols:(r+1)*cols])
				}
			}
			single := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			mbs := float64(4*len(x)) / single * 1e3
			b.ReportMetric(mbs, "MB/s-1core")
			if c, ok := cRef[g.t]; ok {
				b.ReportMetric(mbs/c, "x-ggml-C")
			}
			if runtime.GOMAXPROCS(0) > 1 {
				n := 0
				start := time.Now()
				for time.Since(start) < 200*time.Millisecond {
					Quantize(g.t, dst, x, rows, cols)
					n++
				}
				par := float64(time.Since(start).Nanoseconds()) / float64(n)
				b.ReportMetric(single/par, "parallel-speedup")
			}
		})
	}
}
