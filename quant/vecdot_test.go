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

// TestDotQ4K: the AVX2 kernel equals its Go twin bit for bit, and both are
// within the activation's rounding of the exact product (the dequantized
// Q4_K row times the unrounded activation).
func TestDotQ4K(t *testing.T) {
	const rows, cols = 16, 1024
	x := goldenInput((rows + 1) * cols)
	data := make([]byte, rows*ggml.TypeQ4_K.RowBytes(cols))
	for r := range rows {
		QuantizeRow(ggml.TypeQ4_K, data[r*ggml.TypeQ4_K.RowBytes(cols):], x[r*cols:(r+1)*cols])
	}
	rb := ggml.TypeQ4_K.RowBytes(cols)
	ax := x[rows*cols:]
	var a Q8KAct
	QuantizeQ8KAct(&a, ax)
	for r := range rows {
		got := DotQ4_K(data[r*rb:(r+1)*rb], &a)
		restore := plainKernels()
		twin := DotQ4_K(data[r*rb:(r+1)*rb], &a)
		restore()
		if math.Float32bits(got) != math.Float32bits(twin) {
			t.Fatalf("row %d: kernel %v, Go twin %v", r, got, twin)
		}
		checkNearExact(t, fmt.Sprintf("row %d", r), got, ggml.TypeQ4_K, data[r*ggml.TypeQ4_K.RowBytes(cols):(r+1)*ggml.TypeQ4_K.RowBytes(cols)], ax)
	}
}

// TestDotQ6K: the AVX2 kernel equals its Go twin bit for bit, and both are
// within the activation's rounding of the exact product.
func TestDotQ6K(t *testing.T) {
	const rows, cols = 16, 1024
	x := goldenInput((rows + 1) * cols)
	rb := ggml.TypeQ6_K.RowBytes(cols)
	data := make([]byte, rows*rb)
	for r := range rows {
		QuantizeRow(ggml.TypeQ6_K, data[r*rb:], x[r*cols:(r+1)*cols])
	}
	ax := x[rows*cols:]
	var a Q8KAct
	QuantizeQ8KAct(&a, ax)
	for r := range rows {
		row := data[r*rb : (r+1)*rb]
		got := DotQ6_K(row, &a)
		restore := plainKernels()
		twin := DotQ6_K(row, &a)
		restore()
		if math.Float32bits(got) != math.Float32bits(twin) {
			t.Fatalf("row %d: kernel %v, Go twin %v", r, got, twin)
		}
		checkNearExact(t, fmt.Sprintf("row %d", r), got, ggml.TypeQ6_K, row, ax)
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
