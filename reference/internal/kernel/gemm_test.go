package kernel

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestGEMMKernel: the micro-kernel against its plain twin bit for bit,
// with rows of X aliased (the padded rows of a last block), a panel whose
// rows sit apart, and non-finite values among the inputs.
func TestGEMMKernel(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, n := range []int{0, 32, 64, 96, 2560} {
		stride := n + 48
		w := make([]float32, 4*stride)
		xs := make([][]float32, 3)
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		for i := range xs {
			xs[i] = make([]float32, n)
			for j := range xs[i] {
				xs[i][j] = float32(r.NormFloat64() * math.Pow(10, float64(r.Intn(9)-4)))
			}
		}
		if n > 0 {
			xs[1][n/2] = float32(math.Inf(1))
			w[2*stride+n-1] = float32(math.NaN())
		}
		for _, alias := range []bool{false, true} {
			x1, x2 := xs[1], xs[2]
			if alias {
				x1, x2 = xs[0], xs[0]
			}
			var got, want [12][32]float32
			for i := range got {
				for j := range got[i] {
					got[i][j] = 7 // overwritten, not added to
				}
			}
			gemmKernel(xs[0], x1, x2, w, stride, n, &got)
			gemm3x4Go(xs[0], x1, x2, w, stride, n, &want)
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("n=%d alias=%v: acc[%d][%d] = %v, twin %v", n, alias, i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
}

// TestGEMMBlocks: products large enough to span several groups of panels
// (gemmWBytes) and uneven panels on each thread, against MatMulRef bit
// for bit.
func TestGEMMBlocks(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, sh := range [][3]int{{40, 4096, 61}, {100, 1000, 9}, {7, 2561, 6}} {
		T, cols, rows := sh[0], sh[1], sh[2]
		W := randMat(r, rows, cols, BF16)
		X := make([]float32, T*cols)
		for i := range X {
			X[i] = float32(r.NormFloat64())
		}
		want := make([]float32, T*rows)
		MatMulRef(want, X, T, W)
		for _, th := range []int{1, 2} {
			t.Run(fmt.Sprintf("T=%d,cols=%d,rows=%d,threads=%d", T, cols, rows, th), func(t *testing.T) {
				Threads = th
				defer func() { Threads = 0 }()
				got := make([]float32, T*rows)
				MatMul(got, X, T, W)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("Y[%d] = %v, ref %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}
