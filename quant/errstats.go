package quant

import "sync"

// ErrSums are the sums behind a quantization error figure: Σ(q − x)² and
// Σ x² over the elements seen, accumulated in float64 in element order.
type ErrSums struct{ SSE, SSX float64 }

// AddRow adds one row: x the original values, q the dequantized ones.
func (e *ErrSums) AddRow(x, q []float32) {
	for i, v := range x {
		d := float64(q[i]) - float64(v)
		e.SSE += d * d
		e.SSX += float64(v) * float64(v)
	}
}

// NMSE returns Σ(q − x)² / Σ x², or 0 when every original value is 0.
func (e ErrSums) NMSE() float64 {
	if e.SSX == 0 {
		return 0
	}
	return e.SSE / e.SSX
}

// ErrStats collects the ErrSums of one tensor from concurrent workers, each
// adding the sums of the rows it encoded.
type ErrStats struct {
	mu sync.Mutex
	s  ErrSums
}

// Add adds a worker's sums.
func (e *ErrStats) Add(s ErrSums) {
	e.mu.Lock()
	e.s.SSE += s.SSE
	e.s.SSX += s.SSX
	e.mu.Unlock()
}

// NMSE returns the tensor's NMSE so far.
func (e *ErrStats) NMSE() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.s.NMSE()
}
