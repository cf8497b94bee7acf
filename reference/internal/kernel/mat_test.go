package kernel

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"
)

func randMat(r *rand.Rand, rows, cols int, kind Kind) *Mat {
	m := &Mat{Rows: rows, Cols: cols, Kind: kind}
	switch kind {
	case F32:
		m.Data = make([]byte, 4*rows*cols)
		for i := 0; i < rows*cols; i++ {
			binary.LittleEndian.PutUint32(m.Data[4*i:], math.Float32bits(float32(r.NormFloat64())))
		}
	default:
		m.Data = make([]byte, 2*rows*cols)
		for i := 0; i < rows*cols; i++ {
			// Finite 16-bit patterns of either kind: clear the top exponent bit.
			binary.LittleEndian.PutUint16(m.Data[2*i:], uint16(r.Intn(1<<16))&0xbfff)
		}
	}
	return m
}

func TestMatMulMatchesRef(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, kind := range []Kind{F32, F16, BF16} {
		for _, cols := range []int{1, 7, 8, 9, 31, 32, 33, 64, 257} {
			for _, rows := range []int{1, 15, 16, 17, 100} {
				for _, T := range []int{1, 3, 5, 6, 7, 8, 13} {
					t.Run(fmt.Sprintf("kind=%d/cols=%d/rows=%d/T=%d", kind, cols, rows, T), func(t *testing.T) {
						W := randMat(r, rows, cols, kind)
						X := make([]float32, T*cols)
						for i := range X {
							X[i] = float32(r.NormFloat64())
						}
						Xc := append([]float32(nil), X...)
						want := make([]float32, T*rows)
						MatMulRef(want, X, T, W)
						for _, th := range []int{1, 2, 3} {
							Threads = th
							got := make([]float32, T*rows+2)
							got[T*rows], got[T*rows+1] = float32(math.NaN()), float32(math.NaN())
							MatMul(got[:T*rows], X, T, W)
							for i := range want {
								if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
									t.Fatalf("threads %d: Y[%d] = %v, ref %v", th, i, got[i], want[i])
								}
							}
							if !math.IsNaN(float64(got[T*rows])) || !math.IsNaN(float64(got[T*rows+1])) {
								t.Fatal("wrote past the output")
							}
						}
						Threads = 0
						for i := range X {
							if X[i] != Xc[i] {
								t.Fatal("input changed")
							}
						}
					})
				}
			}
		}
	}
}

// TestDotKernelsCrossCheck compares the dispatching kernels with the Go
// loops and the plain twin bit for bit at lengths around the 32-lane step.
func TestDotKernelsCrossCheck(t *testing.T) {
	t.Run("widest", testDotKernels)
	if useAVX512 {
		useAVX512 = false // the AVX2 kernels too, on a machine that would not use them
		defer func() { useAVX512 = true }()
		t.Run("avx2", testDotKernels)
	}
}

func testDotKernels(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 95, 96, 97, 255, 256, 257, 2560} {
		a := make([]float32, n+1)
		b := make([]float32, n+1)
		w := make([]byte, 2*n+2)
		for i := 0; i < n; i++ {
			a[i] = float32(r.NormFloat64())
			b[i] = float32(r.NormFloat64())
			binary.LittleEndian.PutUint16(w[2*i:], uint16(r.Intn(1<<16))&0xbfff)
		}
		a[n], b[n] = float32(math.NaN()), float32(math.NaN()) // guards: never read
		wide := make([]float32, n)
		for i := range wide {
			wide[i] = bf16At(w, i)
		}
		d1, d2, d3 := Dot(a[:n], b[:n]), dotGo(a[:n], b[:n]), dotRef(a[:n], b[:n])
		if math.Float32bits(d1) != math.Float32bits(d2) || math.Float32bits(d2) != math.Float32bits(d3) {
			t.Fatalf("n=%d: Dot %v, dotGo %v, dotRef %v", n, d1, d2, d3)
		}
		e1, e2, e3 := DotBF16(a[:n], w[:2*n]), dotBF16Go(a[:n], w[:2*n]), dotRef(a[:n], wide)
		if math.Float32bits(e1) != math.Float32bits(e2) || math.Float32bits(e2) != math.Float32bits(e3) {
			t.Fatalf("n=%d: DotBF16 %v, dotBF16Go %v, dotRef(widened) %v", n, e1, e2, e3)
		}
	}
}

func TestDecodeRowKinds(t *testing.T) {
	m := &Mat{Rows: 1, Cols: 2, Kind: BF16, Data: []byte{0x80, 0x3f, 0x00, 0xc0}} // 1, −2
	row := make([]float32, 2)
	m.DecodeRow(0, row)
	if row[0] != 1 || row[1] != -2 {
		t.Errorf("bf16 row %v", row)
	}
	m = &Mat{Rows: 1, Cols: 1, Kind: F16, Data: []byte{0x00, 0x3c}} // 1.0
	m.DecodeRow(0, row)
	if row[0] != 1 {
		t.Errorf("f16 row %v", row)
	}
	f := &Mat{Rows: 1, Cols: 1, Kind: F32, Data: make([]byte, 4), RoundBF16: true}
	binary.LittleEndian.PutUint32(f.Data, 0x3f808000) // a tie: rounds to even 1.0
	f.DecodeRow(0, row)
	if row[0] != 1 {
		t.Errorf("RoundBF16 row %v", row)
	}
}

// BenchmarkMatMul reports GFLOP/s of a Phi-4-mini-flash-width product
// (2560 → 10240, bf16 rows) for a prefill block and a single token, and the
// speedup over the one-goroutine plain twin.
func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewSource(2))
	W := randMat(r, 10240, 2560, BF16)
	for _, T := range []int{1, 128} {
		b.Run(fmt.Sprintf("T=%d", T), func(b *testing.B) {
			X := make([]float32, T*W.Cols)
			for i := range X {
				X[i] = float32(r.NormFloat64())
			}
			Y := make([]float32, T*W.Rows)
			start := time.Now()
			MatMulRef(Y, X, T, W)
			refNs := float64(time.Since(start).Nanoseconds())
			flops := 2 * float64(T) * float64(W.Rows) * float64(W.Cols)
			for b.Loop() {
				MatMul(Y, X, T, W)
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(flops/ns, "GFLOP/s")
			b.ReportMetric(refNs/ns, "speedup-vs-ref")
		})
	}
}

// BenchmarkGEMM reports MatMul's GFLOP/s on the model's product shapes
// Y[M,N] = X[M,K]·W[N,K]ᵀ with bf16 W, on 1 and 2 threads; the fastest of
// the b.N passes, the figure scripts/bench-blas.sh sets beside OpenBLAS's
// cblas_sgemm. SAMBAY_GEMM="M,K,N;…" picks the shapes (default: the
// release's projections at M = 128); SAMBAY_GEMM_TILE=3x3 runs the AVX2
// micro-kernel where the CPU would take the AVX-512 one.
func BenchmarkGEMM(b *testing.B) {
	spec := os.Getenv("SAMBAY_GEMM")
	if spec == "" {
		spec = "128,2560,5120;128,2560,10240;128,10240,2560"
	}
	if tile := os.Getenv("SAMBAY_GEMM_TILE"); tile != "" { // "3x3": the AVX2 kernel on an AVX-512 machine
		prev := gemmUsed
		defer func() { gemmUsed = prev }()
		gemmUsed = nil
		for _, g := range gemmAsm() {
			if fmt.Sprintf("%dx%d", g.mr, g.nr) == tile {
				gemmUsed = g
			}
		}
		if gemmUsed == nil {
			b.Fatalf("SAMBAY_GEMM_TILE=%s: no such assembly GEMM on this CPU", tile)
		}
	}
	r := rand.New(rand.NewSource(2))
	for _, sh := range strings.Split(spec, ";") {
		var m, k, n int
		if _, err := fmt.Sscanf(sh, "%d,%d,%d", &m, &k, &n); err != nil || m < 1 || k < 1 || n < 1 {
			b.Fatalf("SAMBAY_GEMM: %q is not M,K,N", sh)
		}
		// Values as scripts/blas/sgemm.c gives OpenBLAS (weights of a
		// trained model's size; randMat's random bit patterns are mostly
		// tiny numbers whose products are subnormal, slow on some CPUs).
		W := &Mat{Rows: n, Cols: k, Kind: BF16, Data: make([]byte, 2*n*k)}
		for i := range n * k {
			binary.LittleEndian.PutUint16(W.Data[2*i:], uint16(math.Float32bits(roundBF16((r.Float32()-0.5)*0.04))>>16))
		}
		X := make([]float32, m*k)
		for i := range X {
			X[i] = r.Float32() - 0.5
		}
		Y := make([]float32, m*n)
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("M=%d,K=%d,N=%d,threads=%d", m, k, n, th), func(b *testing.B) {
				prev := Threads
				Threads = th
				defer func() { Threads = prev }()
				best := time.Duration(math.MaxInt64)
				for b.Loop() {
					start := time.Now()
					MatMul(Y, X, m, W)
					best = min(best, time.Since(start))
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)/float64(best.Nanoseconds()), "GFLOP/s-best")
			})
		}
	}
}

// halfDotter is a test VecDotter over f32 rows: it prepares x by halving
// it and its dot products double the result, so a product through it
// differs from the exact one only by float32 rounding, and counts calls.
type halfDotter struct {
	m        *Mat
	prepared int
}

func (h *halfDotter) DecodeRow(i int, dst []float32) {
	copy(dst, f32s(h.m.Data[4*i*h.m.Cols:4*(i+1)*h.m.Cols]))
}

func (h *halfDotter) PrepareX(x []float32) any {
	h.prepared++
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = v / 2
	}
	return y
}

func (h *halfDotter) DotRow(i int, x any) float32 {
	row := make([]float32, h.m.Cols)
	h.DecodeRow(i, row)
	return 2 * dotRef(row, x.([]float32))
}

func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestMatMulVecDotter: MatMul hands a VecDotter's matrix to it (X's rows
// prepared once each, every output through DotRow), at every T, and
// ExactDot keeps the widened-row path.
func TestMatMulVecDotter(t *testing.T) {
	const rows, cols = 40, 64
	data := make([]byte, 4*rows*cols)
	for i := range rows * cols {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i%13)-6.25))
	}
	for _, T := range []int{1, 3, 9} {
		X := make([]float32, T*cols)
		for i := range X {
			X[i] = float32(i%7) * 0.375
		}
		for _, exact := range []bool{false, true} {
			W := &Mat{Rows: rows, Cols: cols, Kind: F32, Data: data, ExactDot: exact}
			h := &halfDotter{m: W}
			W.Decoder = h
			Y, want := make([]float32, T*rows), make([]float32, T*rows)
			MatMul(Y, X, T, W)
			MatMulRef(want, X, T, W)
			if wantPrep := map[bool]int{false: T, true: 0}[exact]; h.prepared != wantPrep {
				t.Errorf("T=%d exact=%v: PrepareX called %d times, want %d", T, exact, h.prepared, wantPrep)
			}
			for i := range Y {
				if d := math.Abs(float64(Y[i] - want[i])); d > 1e-3*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("T=%d exact=%v: Y[%d] = %v, exact %v", T, exact, i, Y[i], want[i])
				}
			}
		}
	}
}
