package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/ggml"
)

// benchInput is rows×4096 float32 values: the file SAMBAY_QUANT_INPUT names
// (little-endian float32, e.g. the input given to ggml's quantizer
// benchmark, so both measure the same data; its first SAMBAY_QUANT_ROWS
// rows, default 256), else 256 rows of the generated golden input.
func benchInput(b *testing.B) (x []float32, rows, cols int) {
	rows, cols = 256, 4096
	p := os.Getenv("SAMBAY_QUANT_INPUT")
	if p == "" {
		return goldenInput(rows * cols), rows, cols
	}
	if r := os.Getenv("SAMBAY_QUANT_ROWS"); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 {
			b.Fatalf("SAMBAY_QUANT_ROWS=%q: want a positive row count", r)
		}
		rows = n
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	if len(raw) < 4*rows*cols {
		b.Fatalf("%s: %d bytes, want at least %d", p, len(raw), 4*rows*cols)
	}
	x = make([]float32, rows*cols)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return x, rows, cols
}

// BenchmarkQuantize reports per type the single-core MB/s of float32 input
// through the kernels this machine uses (the mean, and the fastest pass,
// the figure scripts/bench-ggml.sh sets beside ggml's), the same through the plain Go
// twins measured in the same run (the baseline; "x-go-twin" is the ratio,
// 1 where a type has no separate fast kernel), and the all-core speedup of
// Quantize over one core (fastest passes, alternated).
func BenchmarkQuantize(b *testing.B) {
	x, rows, cols := benchInput(b)
	for _, g := range goldenTypes {
		b.Run("type="+g.t.String(), func(b *testing.B) {
			dst := make([]byte, rows*g.t.RowBytes(cols))
			pass := func() {
				for r := 0; r < rows; r++ {
					QuantizeRow(g.t, dst[r*g.t.RowBytes(cols):], x[r*cols:(r+1)*cols])
				}
			}
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				pass()
			}
			fast := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(4*len(x))/fast*1e3, "MB/s-1core")
			best := time.Duration(math.MaxInt64)
			for range b.N {
				start := time.Now()
				pass()
				best = min(best, time.Since(start))
			}
			b.ReportMetric(float64(4*len(x))/float64(best.Nanoseconds())*1e3, "MB/s-best")
			restore := plainKernels()
			start := time.Now()
			for range b.N {
				pass()
			}
			twin := float64(time.Since(start).Nanoseconds()) / float64(b.N)
			restore()
			b.ReportMetric(twin/fast, "x-go-twin")
			if runtime.GOMAXPROCS(0) > 1 {
				// One-core and all-core passes alternate, the fastest of each
				// compared (at least 3 of each and 400 ms): on a shared
				// machine a pass a neighbour slowed says nothing of the code,
				// and means taken at different times compare noise.
				one, all := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
				start := time.Now()
				for n := 0; n < 3 || time.Since(start) < 400*time.Millisecond; n++ {
					t := time.Now()
					pass()
					one = min(one, time.Since(t))
					t = time.Now()
					Quantize(g.t, dst, x, rows, cols)
					all = min(all, time.Since(t))
				}
				b.ReportMetric(float64(4*len(x))/float64(all.Nanoseconds())*1e3, "MB/s-all-cores")
				b.ReportMetric(float64(one)/float64(all), "parallel-speedup")
			}
		})
	}
}

// BenchmarkQxSearch times Q6_K's scale search on 16-element sub-blocks,
// eight side by side (makeQxQuants8), and reports the ratio to ggml's loop
// as written (makeQxQuants, one sub-block at a time) in the same run.
func BenchmarkQxSearch(b *testing.B) {
	x, _, _ := benchInput(b)
	const n = 4096
	var L [8][16]int8
	var ls [8]*[16]int8
	for k := range ls {
		ls[k] = &L[k]
	}
	for b.Loop() {
		for g := 0; g < n; g += 8 {
			var xs [8]*[16]float32
			for k := range 8 {
				xs[k] = (*[16]float32)(x[16*(g+k):])
			}
			makeQxQuants8(32, &xs, &ls)
		}
	}
	fast := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	start := time.Now()
	for range b.N {
		for k := 0; k < n; k++ {
			makeQxQuants(16, 32, x[16*k:], L[0][:])
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/fast, "x-ggml-loop")
}

// BenchmarkMLXDot reports the GB/s of packed weights one core reads taking
// DotMLX of every row of benchInput's matrix (MLX 4 and 8 bits, group 64,
// bf16 scales) with its row 0, and the ratio to dequantizing each row and
// taking the float32 dot product (the exact path) in the same run.
func BenchmarkMLXDot(b *testing.B) {
	x, rows, cols := benchInput(b)
	for _, bits := range []int{4, 8} {
		b.Run(fmt.Sprintf("bits=%d", bits), func(b *testing.B) {
			const group = 64
			pb, ng := cols*bits/8, cols/group
			packed := make([]byte, rows*pb)
			scb, bsb := make([]byte, rows*ng*2), make([]byte, rows*ng*2)
			sc, bs := make([]float32, ng), make([]float32, ng)
			for r := range rows {
				MLXQuantizeRow(packed[r*pb:(r+1)*pb], sc, bs, x[r*cols:(r+1)*cols], bits, group)
				formats.EncodeFloat32(scb[r*ng*2:], sc, formats.BF16)
				formats.EncodeFloat32(bsb[r*ng*2:], bs, formats.BF16)
			}
			var a MLXAct
			QuantizeMLXAct(&a, x[:cols], bits, group)
			b.SetBytes(int64(len(packed)))
			for b.Loop() {
				for r := range rows {
					DotMLX(packed[r*pb:(r+1)*pb], scb[r*ng*2:(r+1)*ng*2], bsb[r*ng*2:(r+1)*ng*2], formats.BF16, &a)
				}
			}
			fast := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(len(packed))/fast, "GB/s")
			row := make([]float32, cols)
			start := time.Now()
			for range b.N {
				for r := range rows {
					formats.DecodeFloat32(sc, scb[r*ng*2:(r+1)*ng*2], formats.BF16)
					formats.DecodeFloat32(bs, bsb[r*ng*2:(r+1)*ng*2], formats.BF16)
					MLXDequantizeRow(row, packed[r*pb:(r+1)*pb], sc, bs, bits, group)
					var s float32
					for i, v := range row {
						s += v * x[i]
					}
				}
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/fast, "x-exact")
		})
	}
}

// BenchmarkRowChecks times, per type, what quantizing a row costs beside
// the quantizer in `quant` (the finite check of the input, dequantizing the
// row and the error sums) and reports it as a fraction of the quantizer's
// own time in the same run ("x-quantize").
func BenchmarkRowChecks(b *testing.B) {
	x, rows, cols := benchInput(b)
	back := make([]float32, cols)
	for _, g := range goldenTypes {
		b.Run("type="+g.t.String(), func(b *testing.B) {
			rb := g.t.RowBytes(cols)
			dst := make([]byte, rows*rb)
			start := time.Now()
			for r := 0; r < rows; r++ {
				QuantizeRow(g.t, dst[r*rb:], x[r*cols:(r+1)*cols])
			}
			q := time.Since(start)
			var acc ErrSums
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				for r := 0; r < rows; r++ {
					xr := x[r*cols : (r+1)*cols]
					if NonFinite(xr) >= 0 {
						b.Fatal("non-finite input")
					}
					DequantizeRow(g.t, back, dst[r*rb:(r+1)*rb])
					acc.AddRow(xr, back)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(q.Nanoseconds()), "x-quantize")
		})
	}
}

// BenchmarkVecDot reports per weight type the GB/s of weights one core
// reads taking the dot product of every row of benchInput's matrix (in
// the type) with its row 0 quantized as an activation, through the kernels
// this machine uses and through the plain Go twins in the same run
// ("x-go-twin"). "GB/s-best" is the fastest pass, the figure
// scripts/bench-ggml.sh's harness of ggml's kernels reports on the same input;
// "sum" is the sum of the row results, to check against the harness's.
func BenchmarkVecDot(b *testing.B) {
	x, rows, cols := benchInput(b)
	x8 := func(dot func([]byte, *Q8Act) float32) func([]byte, []float32) func([]byte) float32 {
		return func(_ []byte, ax []float32) func([]byte) float32 {
			var a Q8Act
			QuantizeQ8Act(&a, ax)
			return func(w []byte) float32 { return dot(w, &a) }
		}
	}
	xk := func(dot func([]byte, *Q8KAct) float32) func([]byte, []float32) func([]byte) float32 {
		return func(_ []byte, ax []float32) func([]byte) float32 {
			var a Q8KAct
			QuantizeQ8KAct(&a, ax)
			return func(w []byte) float32 { return dot(w, &a) }
		}
	}
	for _, k := range []struct {
		t    ggml.Type
		prep func(w []byte, ax []float32) func([]byte) float32
	}{
		{ggml.TypeQ4_0, x8(DotQ4_0)}, {ggml.TypeQ5_0, x8(DotQ5_0)}, {ggml.TypeQ8_0, x8(DotQ8_0)},
		{ggml.TypeQ2_K, xk(DotQ2_K)}, {ggml.TypeQ3_K, xk(DotQ3_K)}, {ggml.TypeQ4_K, xk(DotQ4_K)},
		{ggml.TypeQ5_K, xk(DotQ5_K)}, {ggml.TypeQ6_K, xk(DotQ6_K)},
	} {
		t := k.t
		b.Run("type="+t.String(), func(b *testing.B) {
			w := quantizeAll(t, x, rows, cols)
			rb := t.RowBytes(cols)
			dot := k.prep(w, x[:cols])
			pass := func() (s float64) {
				for r := range rows {
					s += float64(dot(w[r*rb : (r+1)*rb]))
				}
				return s
			}
			b.SetBytes(int64(len(w)))
			var sum float64
			for b.Loop() {
				sum = pass()
			}
			fast := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(len(w))/fast, "GB/s")
			best := time.Duration(math.MaxInt64)
			for range b.N {
				start := time.Now()
				pass()
				best = min(best, time.Since(start))
			}
			b.ReportMetric(float64(len(w))/float64(best.Nanoseconds()), "GB/s-best")
			b.ReportMetric(sum, "sum")
			restore := plainKernels()
			start := time.Now()
			for range b.N {
				pass()
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/fast, "x-go-twin")
			restore()
		})
	}
}
