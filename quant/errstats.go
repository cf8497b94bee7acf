package quant

import (
	"math"
	"sync"
)

// ErrSums are the sums behind a quantization error figure: Σ(q − x)² and
// Σ x² over the elements seen, accumulated in float64 (within a row in 16
// interleaved chains, see AddRow), added row by row.
type ErrSums struct{ SSE, SSX float64 }

// AddRow adds one row: x the original values, q the dequantized ones. The
// sums run in float64 over 16 chains (element i in chain i mod 16), each
// term added by a fused multiply-add, and the chains are summed pairwise at
// the end of the row: the AVX2 kernel and the plain loop give the same bits.
func (e *ErrSums) AddRow(x, q []float32) {
	q = q[:len(x)]
	var se, sx [16]float64
	i := errSums16Fast(x, q, &se, &sx)
	errSumsGo(x[i:], q[i:], &se, &sx, i)
	e.SSE += sum16(&se)
	e.SSX += sum16(&sx)
}

// errSumsGo is errSums16 in Go: x and q start at element off of the row.
func errSumsGo(x, q []float32, se, sx *[16]float64, off int) {
	q = q[:len(x)]
	for i, v := range x {
		k := (off + i) & 15
		xv := float64(v)
		d := float64(q[i]) - xv
		se[k] = math.FMA(d, d, se[k])
		sx[k] = math.FMA(xv, xv, sx[k])
	}
}

// sum16 adds 16 chains pairwise.
func sum16(c *[16]float64) float64 {
	var h [8]float64
	for k := range h {
		h[k] = c[k] + c[k+8]
	}
	return ((h[0] + h[4]) + (h[1] + h[5])) + ((h[2] + h[6]) + (h[3] + h[7]))
}

// NonFinite returns the index of the first NaN or ±Inf in x, or -1.
func NonFinite(x []float32) int {
	bad, n := nonFiniteFast(x)
	if bad {
		n = 0
	}
	for i, v := range x[n:] {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 { // exponent all ones
			return n + i
		}
	}
	return -1
}

// NMSE returns Σ(q − x)² / Σ x², or 0 when every original value is 0.
func (e ErrSums) NMSE() float64 {
	if e.SSX == 0 {
		return 0
	}
	return e.SSE / e.SSX
}

// ErrStats collects the ErrSums of one tensor from concurrent workers, each
// adding the sums of the rows it encoded. A nil *ErrStats measures nothing
// (an export that skips the statistics): Add does nothing, NMSE is 0.
type ErrStats struct {
	mu sync.Mutex
	s  ErrSums
}

// Add adds a worker's sums.
func (e *ErrStats) Add(s ErrSums) {
	if e == nil {
		return
	}
	e.mu.Lock()
	e.s.SSE += s.SSE
	e.s.SSX += s.SSX
	e.mu.Unlock()
}

// NMSE returns the tensor's NMSE so far.
func (e *ErrStats) NMSE() float64 {
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.s.NMSE()
}
