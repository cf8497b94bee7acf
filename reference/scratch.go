package reference

import "sync"

// scratch holds activation buffers for reuse, within a run (a layer's
// buffers serve the next layer) and from one run to the next. Fresh
// buffers of a 128-token prefill at Phi-4-mini-flash width are about 100
// MB that the kernel must fault in a page at a time (the Go heap hands
// freed memory back to the system between runs when the weights are
// mapped, not in the heap). Only sizes the last run used are kept, so a
// long prefill's buffers are let go by the next, shorter, run.
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

// put makes bufs free.
func (s *scratch) put(bufs [][]float32) {
	s.mu.Lock()
	if s.free == nil {
		s.free = map[int][][]float32{}
	}
	for _, b := range bufs {
		s.free[len(b)] = append(s.free[len(b)], b)
	}
	s.mu.Unlock()
}

// trim drops the free buffers of sizes not in used.
func (s *scratch) trim(used map[int]bool) {
	s.mu.Lock()
	for n := range s.free {
		if !used[n] {
			delete(s.free, n)
		}
	}
	s.mu.Unlock()
}

// alloc returns a zeroed buffer of n floats that lives until release or
// the end of the run (it must not be kept in the State or the Result).
func (r *run) alloc(n int) []float32 {
	b := r.m.scratch.take(n)
	r.bufs = append(r.bufs, b)
	if r.sizes == nil {
		r.sizes = map[int]bool{}
	}
	r.sizes[n] = true
	return b
}

// release frees the buffers allocated since mark (len(r.bufs) then),
// except keep (a buffer that later layers still read).
func (r *run) release(mark int, keep []float32) {
	var kept [][]float32
	var done [][]float32
	for _, b := range r.bufs[mark:] {
		if len(keep) > 0 && &b[0] == &keep[0] {
			kept = append(kept, b)
		} else {
			done = append(done, b)
		}
	}
	r.m.scratch.put(done)
	r.bufs = append(r.bufs[:mark], kept...)
}

// finish frees the run's remaining buffers and trims the free ones to the
// sizes this run used.
func (r *run) finish() {
	r.m.scratch.put(r.bufs)
	r.bufs = nil
	r.m.scratch.trim(r.sizes)
}
