package quant

import "sync"

// ErrSums are the sums behind a quantization error figure: Σ(q − x)² and
// Σ x² over the elements seen, accumulated in float64: within a row in four
// interleaved partial sums (element i into sum i mod 4, so the additions
// are independent chains the processor overlaps), added row by row.
type ErrSums struct{ SSE, SSX float64 }

// AddRow adds one row: x the original values, q the dequantized ones.
func (e *ErrSums) AddRow(x, q []float32) {
	q = q[:len(x)]
	var se, sx [4]float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		for k := range 4 {
			v := float64(x[i+k])
			d := float64(q[i+k]) - v
			se[k] += d * d
			sx[k] += v * v
		}
	}
	for ; i < len(x); i++ {
		v := float64(x[i])
		d := float64(q[i]) - v
		se[0] += d * d
		sx[0] += v * v
	}
	e.SSE += (se[0] + se[1]) + (se[2] + se[3])
	e.SSX += (sx[0] + sx[1]) + (sx[2] + sx[3])
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
