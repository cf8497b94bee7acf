package kernel

import (
	"encoding/binary"
	"math"
	"runtime"
	"sync"

	"github.com/x448/float16"
)

// Kind is the storage type of a matrix's rows.
type Kind uint8

// Row storage kinds.
const (
	F32 Kind = iota
	F16
	BF16
)

// A RowDecoder widens one row of a matrix into float32 (for quantized row
// formats to plug in later).
type RowDecoder interface {
	DecodeRow(i int, dst []float32)
}

// A VecDotter computes the dot products of its rows itself, from an
// activation it prepares once per matrix product (quantized to blocks, as
// llama.cpp's CPU backend does for quantized weights). MatMul uses it for
// every product, so prefill and decoding compute the same numbers, unless
// the matrix asks for the exact path (Mat.ExactDot).
type VecDotter interface {
	// PrepareX returns x (one row of X) in the form DotRow takes.
	PrepareX(x []float32) any
	// DotRow returns row i · x, with x as PrepareX returned it.
	DotRow(i int, x any) float32
}

// Mat is a row-major [Rows, Cols] matrix whose bytes stay where they are
// (typically an mmapped file); rows are widened to float32 when used.
type Mat struct {
	Rows, Cols int
	Kind       Kind
	Data       []byte
	// RoundBF16 rounds every widened element to bfloat16 (bf16 numerics on a
	// matrix stored wider than bf16).
	RoundBF16 bool
	// Decoder, when set, replaces the built-in row formats.
	Decoder RowDecoder
	// ExactDot keeps MatMul on widened rows and float32 dot products even
	// when Decoder is a VecDotter.
	ExactDot bool
}

// DecodeRow widens row i into dst[:Cols].
func (m *Mat) DecodeRow(i int, dst []float32) {
	dst = dst[:m.Cols]
	if m.Decoder != nil {
		m.Decoder.DecodeRow(i, dst)
		if m.RoundBF16 {
			for j, v := range dst {
				dst[j] = roundBF16(v)
			}
		}
		return
	}
	m.decodeRange(i, 0, dst)
}

// decodeRange widens columns [k0, k0+len(dst)) of row i of a matrix in one
// of the built-in kinds (no Decoder) into dst.
func (m *Mat) decodeRange(i, k0 int, dst []float32) {
	at := i*m.Cols + k0
	switch m.Kind {
	case BF16:
		row := m.Data[2*at : 2*(at+len(dst))]
		for j := range dst {
			dst[j] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(row[2*j:])) << 16)
		}
	case F16:
		row := m.Data[2*at : 2*(at+len(dst))]
		for j := range dst {
			dst[j] = float16.Frombits(binary.LittleEndian.Uint16(row[2*j:])).Float32()
		}
	default:
		row := m.Data[4*at : 4*(at+len(dst))]
		for j := range dst {
			dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*j:]))
		}
	}
	if m.RoundBF16 {
		for j, v := range dst {
			dst[j] = roundBF16(v)
		}
	}
}

func roundBF16(f float32) float32 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return math.Float32frombits(0x7fc00000)
	}
	u += 0x7fff + (u>>16)&1
	return math.Float32frombits(u & 0xffff0000)
}

// dotGo returns Σ a[i]·b[i] over len(a) elements with 32 accumulators:
// accumulator k sums the products (each rounded to float32) of the
// elements i ≡ k (mod 32), in order of i, and the 32 are combined pairwise
// by reduce32. The assembly kernels keep exactly this order (four 8-lane
// vector accumulators, so the adds of consecutive elements do not wait on
// each other), so every implementation returns the same bits.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s [32]float32
	for i, v := range a {
		s[i&31] += float32(v * b[i])
	}
	return reduce32(&s)
}

// reduce32 adds 32 accumulators as a tree: k with k+16, then k+8, k+4,
// k+2 and k+1.
func reduce32(s *[32]float32) float32 {
	for h := 16; h >= 1; h /= 2 {
		for k := range h {
			s[k] += s[k+h]
		}
	}
	return s[0]
}

// fusedMaxT is the largest row count of X for which MatMul reads bf16
// weights in place instead of widening each row first.
const fusedMaxT = 4

func bf16At(w []byte, i int) float32 {
	return math.Float32frombits(uint32(binary.LittleEndian.Uint16(w[2*i:])) << 16)
}

// dotBF16Go returns Σ a[i]·w[i] where w holds len(a) little-endian bf16
// values; the same accumulation order as dotGo, so the result equals
// Dot(a, widened w) bit for bit.
func dotBF16Go(a []float32, w []byte) float32 {
	w = w[:2*len(a)]
	var s [32]float32
	for i, v := range a {
		s[i&31] += float32(v * math.Float32frombits(uint32(binary.LittleEndian.Uint16(w[2*i:]))<<16))
	}
	return reduce32(&s)
}

// dotRef is the plain twin of Dot: the same order, written out element by element.
func dotRef(a, b []float32) float32 {
	var s [32]float32
	for i := range a {
		s[i%32] += float32(a[i] * b[i])
	}
	return reduce32(&s)
}

// Threads is the number of goroutines MatMul uses (default GOMAXPROCS).
var Threads = 0

func threads() int {
	if Threads > 0 {
		return Threads
	}
	return runtime.GOMAXPROCS(0)
}

// MatMul computes Y[t, o] = Σ_k X[t, k]·W[o, k] for t < T (X is [T, W.Cols],
// Y is [T, W.Rows], both row-major). Output rows of W are split among
// goroutines. Where W's decoder is a VecDotter (and W not ExactDot), each
// takes its dot products with X's rows as the VecDotter prepared them once.
// Otherwise, for more than fusedMaxT rows of X, a blocked GEMM (gemm.go)
// where the CPU has one; for fewer, bf16 rows are read in place; else each
// row of W is widened once and used for every t. Every path returns
// MatMulRef's bits.
func MatMul(Y, X []float32, T int, W *Mat) {
	out, in := W.Rows, W.Cols
	vd, vecDot := W.Decoder.(VecDotter)
	vecDot = vecDot && !W.ExactDot && !W.RoundBF16
	var px []any // X's rows as the VecDotter takes them, prepared once
	if vecDot {
		px = make([]any, T)
		for t := range T {
			px[t] = vd.PrepareX(X[t*in : (t+1)*in])
		}
	}
	g := gemmUsed
	if vecDot || T <= fusedMaxT {
		g = nil
	}
	unit := 1 // rows of W handed out together: whole panels for the GEMM
	if g != nil {
		unit = g.nr
	}
	Parallel((out+unit-1)/unit, max(1, 16/unit), func(lo, hi int) {
		lo, hi = lo*unit, min(out, hi*unit)
		switch {
		case g != nil:
			gemmRows(Y, X, T, W, lo, hi, g)
			return
		case vecDot:
			for o := lo; o < hi; o++ {
				for t := range T {
					Y[t*out+o] = vd.DotRow(o, px[t])
				}
			}
			return
		case T <= fusedMaxT && W.Kind == BF16 && W.Decoder == nil && !W.RoundBF16 && W.Data != nil:
			// Few rows of X (decoding): read bf16 weights in place, no widened copy.
			for o := lo; o < hi; o++ {
				wrow := W.Data[2*o*in : 2*(o+1)*in]
				for t := 0; t < T; t++ {
					Y[t*out+o] = DotBF16(X[t*in:(t+1)*in], wrow)
				}
			}
			return
		}
		row := make([]float32, in)
		for o := lo; o < hi; o++ {
			W.DecodeRow(o, row)
			for t := 0; t < T; t++ {
				Y[t*out+o] = Dot(X[t*in:(t+1)*in], row)
			}
		}
	})
}

// MatMulRef is the plain twin of MatMul: one goroutine, dotRef.
func MatMulRef(Y, X []float32, T int, W *Mat) {
	row := make([]float32, W.Cols)
	for o := 0; o < W.Rows; o++ {
		W.DecodeRow(o, row)
		for t := 0; t < T; t++ {
			Y[t*W.Rows+o] = dotRef(X[t*W.Cols:(t+1)*W.Cols], row)
		}
	}
}

// Parallel calls f on consecutive ranges [lo, hi) that cover [0, n), on
// up to Threads goroutines at once, and returns when all are done; grain
// is the smallest range worth a goroutine. f must compute each index the
// same way whatever range holds it (the forward's results never depend
// on the thread count).
func Parallel(n, grain int, f func(lo, hi int)) {
	nt := min(threads(), max(1, n/max(1, grain)))
	if nt <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	chunk := (n + nt - 1) / nt
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, min(n, lo+chunk))
		}()
	}
	f(0, min(n, chunk))
	wg.Wait()
}
