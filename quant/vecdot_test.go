package quant

import (
	"fmt"
	"math"
	"testing"

	"github.com/sambay-conv/sambay-conv/ggml"
)

// TestDotQ8_0: the AVX2 kernel equals its Go twin bit for bit (rows of 1 to
// 20 blocks: whole groups of eight and tails), and both are within the
// activation's rounding of the exact product: the dequantized row times
// the unrounded activation.
func TestDotQ8_0(t *testing.T) {
	x := goldenInput(64 * 640)
	for _, nb := range []int{1, 7, 8, 9, 16, 20} {
		n := nb * 32
		for r := 0; r < 64; r++ {
			wx, ax := x[r*640:r*640+n], x[(r+1)%64*640:(r+1)%64*640+n]
			row := make([]byte, ggml.TypeQ8_0.RowBytes(n))
			QuantizeRow(ggml.TypeQ8_0, row, wx)
			var a Q8Act
			QuantizeQ8Act(&a, ax)
			got := DotQ8_0(row, &a)
			restore := plainKernels()
			twin := DotQ8_0(row, &a)
			restore()
			if math.Float32bits(got) != math.Float32bits(twin) {
				t.Fatalf("%d blocks, row %d: kernel %v, Go twin %v", nb, r, got, twin)
			}
			checkNearExact(t, fmt.Sprintf("%d blocks, row %d", nb, r), got, ggml.TypeQ8_0, row, ax)
		}
	}
}

// dotKernels are the row-times-activation products of the types that have
// one, each taking the activation as float32 values it quantizes itself.
var dotKernels = []struct {
	t   ggml.Type
	dot func(row []byte, x []float32) float32
}{
	{ggml.TypeQ4_0, func(w []byte, x []float32) float32 { var a Q8Act; QuantizeQ8Act(&a, x); return DotQ4_0(w, &a) }},
	{ggml.TypeQ5_0, func(w []byte, x []float32) float32 { var a Q8Act; QuantizeQ8Act(&a, x); return DotQ5_0(w, &a) }},
	{ggml.TypeQ2_K, func(w []byte, x []float32) float32 { var a Q8KAct; QuantizeQ8KAct(&a, x); return DotQ2_K(w, &a) }},
	{ggml.TypeQ3_K, func(w []byte, x []float32) float32 { var a Q8KAct; QuantizeQ8KAct(&a, x); return DotQ3_K(w, &a) }},
	{ggml.TypeQ4_K, func(w []byte, x []float32) float32 { var a Q8KAct; QuantizeQ8KAct(&a, x); return DotQ4_K(w, &a) }},
	{ggml.TypeQ5_K, func(w []byte, x []float32) float32 { var a Q8KAct; QuantizeQ8KAct(&a, x); return DotQ5_K(w, &a) }},
	{ggml.TypeQ6_K, func(w []byte, x []float32) float32 { var a Q8KAct; QuantizeQ8KAct(&a, x); return DotQ6_K(w, &a) }},
}

// TestDotKernels: per type, the AVX2 kernel equals its Go twin bit for bit
// on rows of 1 to 5 K-quant blocks (3 to 40 legacy ones: part groups of
// eight and tails), and both are
// within the activation's rounding of the exact product (the dequantized
// row times the unrounded activation).
func TestDotKernels(t *testing.T) {
	x := goldenInput(17 * 1280)
	for _, k := range dotKernels {
		lens := []int{256, 512, 1280}
		if k.t.BlockSize() == 32 {
			lens = []int{96, 256, 352, 1280}
		}
		for _, n := range lens {
			for r := range 16 {
				wx, ax := x[r*1280:r*1280+n], x[(r+1)*1280:(r+1)*1280+n]
				row := make([]byte, k.t.RowBytes(n))
				QuantizeRow(k.t, row, wx)
				got := k.dot(row, ax)
				restore := avx2Only()
				avx2 := k.dot(row, ax)
				restore()
				restore = plainKernels()
				twin := k.dot(row, ax)
				restore()
				what := fmt.Sprintf("%v, %d values, row %d", k.t, n, r)
				if math.Float32bits(got) != math.Float32bits(twin) || math.Float32bits(avx2) != math.Float32bits(twin) {
					t.Fatalf("%s: kernel %v (AVX2 only %v), Go twin %v", what, got, avx2, twin)
				}
				checkNearExact(t, what, got, k.t, row, ax)
			}
		}
	}
}

// checkNearExact fails unless got, a dot product of the quantized row with
// a quantized activation, is within the activation's rounding of the exact
// product: the dequantized row times the unrounded activation x. Each
// activation code is off by at most half a step (amax/254 of its block).
func checkNearExact(t *testing.T, what string, got float32, typ ggml.Type, row []byte, x []float32) {
	t.Helper()
	back := make([]float32, len(x))
	DequantizeRow(typ, back, row)
	var exact, mag float64
	for i := range back {
		exact += float64(back[i]) * float64(x[i])
		mag += math.Abs(float64(back[i]) * float64(x[i]))
	}
	if d := math.Abs(float64(got) - exact); d > 0.01*mag+1e-6 {
		t.Fatalf("%s: %v, exact %v (Σ|w·a| %v)", what, got, exact, mag)
	}
}
