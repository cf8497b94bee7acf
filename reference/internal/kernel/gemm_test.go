package kernel

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// gemmGo is a GEMM of the plain twins, of any shape.
func gemmGo(mr, nr, parts int) *gemmImpl {
	return &gemmImpl{mr: mr, nr: nr, parts: parts,
		kern: func(x []float32, xs int, w []float32, ws, n, q int, acc []float32, zero bool) {
			gemmPartGo(mr, nr, parts, x, xs, w, ws, n, q, acc, zero)
		},
		reduce: func(acc, out []float32) { reducePartsGo(mr*nr, parts, acc, out) },
	}
}

// TestGEMMKernel: each assembly micro-kernel the CPU runs against the
// plain twin bit for bit, every part, adding to lanes that already hold
// sums, with rows that sit apart and non-finite values among the inputs.
func TestGEMMKernel(t *testing.T) {
	gs := gemmAsm()
	if len(gs) == 0 {
		t.Skip("no assembly GEMM on this CPU or build")
	}
	r := rand.New(rand.NewSource(5))
	for _, g := range gs {
		for _, n := range []int{0, 32, 64, 96, 2560} {
			xs, ws := n+48, n+80
			x := make([]float32, g.mr*xs)
			w := make([]float32, g.nr*ws)
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
			for q := range g.parts {
				size := g.mr * g.nr * 32 / g.parts
				got := make([]float32, size+1)
				for i := range got {
					got[i] = float32(r.NormFloat64())
				}
				for _, zero := range []bool{false, true} {
					want := append([]float32(nil), got...)
					g.kern(x, xs, w, ws, n, q, got[:size], zero)
					gemmPartGo(g.mr, g.nr, g.parts, x, xs, w, ws, n, q, want[:size], zero)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%d×%d n=%d part %d zero=%v: acc[%d] = %v, twin %v", g.mr, g.nr, n, q, zero, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestGEMMReduce: each reduction against reduce32's tree bit for bit, NaNs
// of different payloads included (which one comes out depends on the
// order of each add's operands).
func TestGEMMReduce(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, g := range append(gemmAsm(), gemmGo(6, 4, 2)) {
		outputs := g.mr * g.nr
		acc := make([]float32, 32*outputs)
		for i := range acc {
			acc[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.Intn(13)-6)))
		}
		for j := range outputs {
			acc[j*16+j%16] = math.Float32frombits(0x7fc00000 | uint32(j+1))
			acc[len(acc)-1-j*7] = math.Float32frombits(0xffc00000 | uint32(100+j))
		}
		acc[0], acc[len(acc)/2] = float32(math.Inf(1)), float32(math.Inf(-1))
		got, want := make([]float32, outputs), make([]float32, outputs)
		g.reduce(acc, got)
		reducePartsGo(outputs, g.parts, acc, want)
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Errorf("%d×%d sum %d: %#x, reduce32 %#x", g.mr, g.nr, j, math.Float32bits(got[j]), math.Float32bits(want[j]))
			}
		}
		// The twin itself against dotGo's lanes: part q of output j holds
		// lanes q·32/parts… of its 32.
		var a [32]float32
		pw := 32 / g.parts
		for q := range g.parts {
			copy(a[q*pw:(q+1)*pw], acc[(q*outputs+1)*pw:])
		}
		if s := reduce32(&a); math.Float32bits(s) != math.Float32bits(want[1]) {
			t.Errorf("%d×%d: reducePartsGo gathers output 1 as %v, not %v", g.mr, g.nr, want[1], s)
		}
	}
}

// TestWidenChunk: chunks widened into the panel layout of 2 and 4 parts
// (of every 32 elements, part q's lanes after the part before's, each part
// contiguous; a tail under 32 in place), AVX-512, AVX2 and plain Go, and
// through a row decoder, against DecodeRow.
func TestWidenChunk(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	W := randMat(r, 3, 100, BF16)
	D := &Mat{Rows: 3, Cols: 100, Decoder: rowsOf{W}}
	check := func(t *testing.T) {
		for _, m := range []*Mat{W, D} {
			for _, parts := range []int{2, 4} {
				for i := range 3 {
					row := make([]float32, 100)
					W.DecodeRow(i, row)
					for _, k := range [][2]int{{0, 100}, {0, 64}, {32, 100}, {64, 79}, {96, 100}} {
						n := k[1] - k[0]
						got := make([]float32, n)
						widenChunk(m, i, k[0], got, make([]float32, 100), parts)
						k32, pw := n&^31, 32/parts
						for j := range n {
							at := j // where element k0+j belongs
							if j < k32 {
								s, q, l := j/32, j%32/pw, j%pw
								at = q*k32/parts + s*pw + l
							}
							if math.Float32bits(got[at]) != math.Float32bits(row[k[0]+j]) {
								t.Fatalf("decoder=%v parts=%d row %d chunk %v: element %d at [%d] = %v, DecodeRow %v", m.Decoder != nil, parts, i, k, j, at, got[at], row[k[0]+j])
							}
						}
					}
				}
			}
		}
	}
	t.Run("widest", check)
	if useAVX512 {
		useAVX512 = false
		defer func() { useAVX512 = true }()
		t.Run("avx2", check)
	}
	if useAVX2 {
		useAVX2 = false
		defer func() { useAVX2 = true }()
		t.Run("go", check)
	}
}

// TestGEMMBlocks: products that span several chunks of K (with a tail),
// groups of panels, blocks of X and uneven panels on each thread, and
// other kinds of W, against MatMulRef bit for bit.
func TestGEMMBlocks(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	// Each assembly GEMM the CPU runs, and the plain twins in both shapes
	// (the blocking itself, on any platform).
	gemms := append(gemmAsm(), gemmGo(6, 4, 2), gemmGo(3, 3, 4))
	defer func(g *gemmImpl) { gemmUsed = g }(gemmUsed)
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
		for _, g := range gemms {
			for _, th := range []int{1, 2} {
				t.Run(fmt.Sprintf("%d×%d/T=%d,cols=%d,rows=%d,kind=%d,round=%v,decoder=%v,threads=%d", g.mr, g.nr, c.T, c.cols, c.rows, c.kind, c.round, c.dec, th), func(t *testing.T) {
					Threads, gemmUsed = th, g
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
}

// rowsOf is a RowDecoder (not a VecDotter) over a matrix of a built-in kind.
type rowsOf struct{ m *Mat }

func (d rowsOf) DecodeRow(i int, dst []float32) { d.m.DecodeRow(i, dst) }
