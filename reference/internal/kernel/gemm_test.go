package kernel

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestGEMMKernel: the micro-kernel against its plain twin bit for bit,
// both halves, adding to lanes that already hold sums, with rows that sit
// apart and non-finite values among the inputs.
func TestGEMMKernel(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, n := range []int{0, 32, 64, 96, 2560} {
		xs, ws := n+48, n+80
		x := make([]float32, gemmMR*xs)
		w := make([]float32, gemmNR*ws)
		for i := range x {
			x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.Intn(9)-4)))
		}
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		if n > 0 {
			x[xs+n/2] = float32(math.Inf(1))
			w[2*ws+n-1] = float32(math.NaN())
		}
		for h := range 2 {
			var got, want [24][16]float32
			for i := range got {
				for j := range got[i] {
					got[i][j] = float32(r.NormFloat64())
				}
			}
			want = got
			gemmAsm(x, xs, w, ws, n, h, &got)
			gemm6x4hGo(x, xs, w, ws, n, h, &want)
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("n=%d h=%d: acc[%d][%d] = %v, twin %v", n, h, i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
}

// TestGEMMReduce: the vector reduction against reduce32's tree bit for bit,
// NaNs of different payloads included (which one comes out depends on the
// order of each add's operands).
func TestGEMMReduce(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	var lo, hi [24][16]float32
	for j := range lo {
		for l := range 16 {
			lo[j][l] = float32(r.NormFloat64() * math.Pow(10, float64(r.Intn(13)-6)))
			hi[j][l] = float32(r.NormFloat64() * math.Pow(10, float64(r.Intn(13)-6)))
		}
	}
	for j := range 24 {
		lo[j][j%16] = math.Float32frombits(0x7fc00000 | uint32(j+1))
		hi[j][(j*5)%16] = math.Float32frombits(0xffc00000 | uint32(100+j))
	}
	lo[3][0] = float32(math.Inf(1))
	hi[3][0] = float32(math.Inf(-1))
	var got, want [24]float32
	reduce24(&lo, &hi, &got)
	reduceHalvesGo(&lo, &hi, &want)
	for j := range want {
		if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
			t.Errorf("sum %d: %#x, reduce32 %#x", j, math.Float32bits(got[j]), math.Float32bits(want[j]))
		}
	}
}

// TestWidenChunk: bf16 chunks widened sixteen at a time equal DecodeRow's.
func TestWidenChunk(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	W := randMat(r, 3, 100, BF16)
	for i := range 3 {
		row := make([]float32, 100)
		W.DecodeRow(i, row)
		for _, k := range [][2]int{{0, 100}, {0, 64}, {32, 100}, {64, 79}, {96, 100}} {
			got := make([]float32, k[1]-k[0])
			widenChunk(W, i, k[0], got, make([]float32, 100))
			for j, v := range got {
				if math.Float32bits(v) != math.Float32bits(row[k[0]+j]) {
					t.Fatalf("row %d chunk %v: [%d] = %v, DecodeRow %v", i, k, j, v, row[k[0]+j])
				}
			}
		}
	}
}

// TestGEMMBlocks: products that span several chunks of K (with a tail),
// groups of panels, blocks of X and uneven panels on each thread, and
// other kinds of W, against MatMulRef bit for bit.
func TestGEMMBlocks(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, c := range []struct {
		T, cols, rows int
		kind          Kind
		round, dec    bool // RoundBF16; rows through a RowDecoder
	}{
		{40, 4096, 61, BF16, false, false}, {13, 5200, 9, BF16, false, false}, {100, 1000, 9, BF16, false, false},
		{7, 2561, 6, BF16, false, false}, {gemmTB + 32, 64, 10, BF16, false, false}, {9, 2600, 7, F16, false, false},
		{11, 3000, 5, F32, false, false}, {8, 2100, 6, F32, true, false}, {10, 3000, 9, F16, false, true},
		{6, 1031, 5, BF16, false, false},
	} {
		W := randMat(r, c.rows, c.cols, c.kind)
		W.RoundBF16 = c.round
		if c.dec {
			W = &Mat{Rows: W.Rows, Cols: W.Cols, Decoder: rowsOf{W}}
		}
		if c.kind == BF16 && !c.dec { // values of a trained model's size, so that sums are not all subnormal
			for i := range c.rows * c.cols {
				binary.LittleEndian.PutUint16(W.Data[2*i:], uint16(math.Float32bits(float32(r.NormFloat64()*0.02))>>16))
			}
		}
		X := make([]float32, c.T*c.cols)
		for i := range X {
			X[i] = float32(r.NormFloat64())
		}
		want := make([]float32, c.T*c.rows)
		MatMulRef(want, X, c.T, W)
		for _, th := range []int{1, 2} {
			t.Run(fmt.Sprintf("T=%d,cols=%d,rows=%d,kind=%d,round=%v,decoder=%v,threads=%d", c.T, c.cols, c.rows, c.kind, c.round, c.dec, th), func(t *testing.T) {
				Threads = th
				defer func() { Threads = 0 }()
				got := make([]float32, c.T*c.rows)
				MatMul(got, X, c.T, W)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("Y[%d] = %v, ref %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// rowsOf is a RowDecoder (not a VecDotter) over a matrix of a built-in kind.
type rowsOf struct{ m *Mat }

func (d rowsOf) DecodeRow(i int, dst []float32) { d.m.DecodeRow(i, dst) }
