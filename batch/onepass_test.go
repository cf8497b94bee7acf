package batch

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/formats"
)

// TestSharedReader runs consumers that read every tensor once or three
// times, each with several goroutines walking the tensors in order in
// chunks (as the exporters do), through a small memory budget: every read
// returns the tensor's bytes, nothing deadlocks, the source is read once,
// and the memory held stays near the budget.
func TestSharedReader(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var tensors []formats.Tensor
	var data [][]byte
	sizes := map[string]int64{}
	var total int64
	for i := range 12 {
		b := make([]byte, r.IntN(3*blockBytes)+1)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		name := fmt.Sprint("t", i)
		tensors = append(tensors, formats.NewTensorBytes(name, formats.U8, []int64{int64(len(b))}, "mem", b))
		data = append(data, b)
		sizes[name] = int64(len(b))
		total += int64(len(b))
	}
	const capacity = 2 * blockBytes
	s := newSharedReader(capacity)
	passes := []int{1, 3, 1}
	var cons []*consumer
	for _, p := range passes {
		m := map[string]int{}
		for _, tn := range tensors {
			m[tn.Name] = p
		}
		cons = append(cons, s.consumer(m, sizes))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for ci, c := range cons {
		// The consumer's work items: each tensor, passes times, in chunks.
		type item struct {
			t        int
			off, len int64
		}
		work := make(chan item)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for it := range work {
					v := c.view(tensors[it.t])
					buf := make([]byte, it.len)
					if _, err := v.ReadAt(buf, it.off); err != nil {
						errs <- err
						continue
					}
					if !bytes.Equal(buf, data[it.t][it.off:it.off+it.len]) {
						errs <- fmt.Errorf("consumer %d: tensor %d at %d: wrong bytes", ci, it.t, it.off)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(work)
			chunk := int64(1<<20 + 17*ci)
			for ti := range tensors {
				for range passes[ci] {
					for off := int64(0); off < sizes[tensors[ti].Name]; off += chunk {
						work <- item{ti, off, min(chunk, sizes[tensors[ti].Name]-off)}
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("deadlock: the consumers did not finish in 60 s")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range cons {
		c.close()
	}
	if s.fetched != total || s.refetched != 0 {
		t.Errorf("fetched %d bytes (%d again) of %d", s.fetched, s.refetched, total)
	}
	// The slowest consumer may fetch past the budget: one block per
	// goroutine of it at most.
	if s.peak > capacity+3*blockBytes {
		t.Errorf("held %d bytes at the peak, budget %d", s.peak, capacity)
	}
	if s.used != 0 || len(s.blocks) != 0 {
		t.Errorf("%d bytes in %d blocks still held after every consumer closed", s.used, len(s.blocks))
	}
	t.Logf("%d bytes read once by %d consumers; peak held %d (budget %d)", total, len(cons), s.peak, capacity)
}
