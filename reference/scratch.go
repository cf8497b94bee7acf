package reference

import "sync"

// scratch keeps the activation buffers of a model's last run for the next
// one. Fresh buffers of a 128-token prefill at Phi-4-mini-flash width are
// about 100 MB that the kernel must fault in a page at a time (the Go heap
// hands freed memory back to the system between runs when the weights are
// mapped, not in the heap); a run that finds buffers of the sizes it needs
// takes them instead. What is kept is what the last run used, no more, so
// a long prefill's buffers are let go by the next, shorter, run.
type scratch struct {
	mu   sync.Mutex
	free map[int][][]float32
}

// take returns a zeroed buffer of n floats, reused if one is free.
func (s *scratch) take(n int) []float32 {
	s.mu.Lock()
	l := s.free[n]
	if k := len(l); k > 0 {
		b := l[k-1]
		s.free[n] = l[:k-1]
		s.mu.Unlock()
		clear(b)
		return b
	}
	s.mu.Unlock()
	return make([]float32, n)
}

// keep makes bufs the free buffers, dropping those kept before.
func (s *scratch) keep(bufs [][]float32) {
	free := make(map[int][][]float32)
	for _, b := range bufs {
		free[len(b)] = append(free[len(b)], b)
	}
	s.mu.Lock()
	s.free = free
	s.mu.Unlock()
}

// alloc returns a zeroed buffer of n floats that lives until the end of the
// run (it must not be kept in the State or the Result).
func (r *run) alloc(n int) []float32 {
	b := r.m.scratch.take(n)
	r.bufs = append(r.bufs, b)
	return b
}
