package batch

import (
	"fmt"
	"sync"

	"github.com/sambay-conv/sambay-conv/formats"
)

// A sharedReader lets several exports of one source run at once while the
// source's bytes are read once: each export (a consumer) reads through its
// own view, the bytes are fetched from the source in blocks, and a block
// stays in memory until every consumer has read it as many times as it
// declared (SourceReads: an MLX export reads a quantized module's rows
// three times, a GGUF export once). The exports walk the model in the
// same order, so the blocks alive are those between the slowest and the
// fastest export: at most capacity bytes, except that the slowest consumer
// may always fetch (it is the one the others wait for, so it never waits).
// A consumer that reads a block again after it was dropped (more reads than
// it declared) fetches it again: correct, counted in refetched.
type sharedReader struct {
	mu        sync.Mutex
	cond      *sync.Cond
	capacity  int64
	used      int64
	blocks    map[blockKey]*block
	consumers []*consumer

	fetched, refetched int64 // source bytes read; those read more than once
	peak               int64 // most bytes held at once
	history            map[blockKey]bool
}

type blockKey struct {
	tensor string
	index  int64
}

type block struct {
	data    []byte
	loading bool
	err     error
	left    map[*consumer]int64 // bytes each consumer has still to read
}

// A consumer is one export reading through the shared reader.
type consumer struct {
	s      *sharedReader
	passes map[string]int // reads of each tensor this consumer will make
	total  int64          // bytes it will read in all
	done   int64          // bytes it has read
	closed bool
}

// blockBytes is the unit fetched from the source.
const blockBytes = 4 << 20

func newSharedReader(capacity int64) *sharedReader {
	s := &sharedReader{capacity: capacity, blocks: map[blockKey]*block{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// consumer adds a consumer that reads each tensor of sizes passes[name]
// times. Register every consumer before the first read: a block is kept
// only for the consumers known when it is fetched.
func (s *sharedReader) consumer(passes map[string]int, sizes map[string]int64) *consumer {
	c := &consumer{s: s, passes: passes}
	for name, n := range passes {
		c.total += int64(n) * sizes[name]
	}
	s.mu.Lock()
	s.consumers = append(s.consumers, c)
	s.mu.Unlock()
	return c
}

// view wraps a source tensor for consumer c.
func (c *consumer) view(t formats.Tensor) formats.Tensor {
	return formats.NewTensor(t.Name, t.DType, t.Shape, t.File, &viewReader{c: c, t: t})
}

type viewReader struct {
	c *consumer
	t formats.Tensor
}

func (v *viewReader) ReadAt(p []byte, off int64) (int, error) {
	size := v.t.Size()
	if off < 0 || off > size {
		return 0, fmt.Errorf("tensor %s: read at %d of %d bytes", v.t.Name, off, size)
	}
	n := 0
	for n < len(p) && off < size {
		idx := off / blockBytes
		b, err := v.c.s.get(v.c, v.t, idx)
		if err != nil {
			return n, err
		}
		m := copy(p[n:], b.data[off-idx*blockBytes:])
		v.c.s.consumed(v.c, blockKey{v.t.Name, idx}, b, int64(m))
		n += m
		off += int64(m)
	}
	if n < len(p) {
		return n, fmt.Errorf("tensor %s: read past its %d bytes", v.t.Name, size)
	}
	return n, nil
}

// slowest reports whether c has the least progress of the open consumers
// (the caller holds mu).
func (s *sharedReader) slowest(c *consumer) bool {
	for _, o := range s.consumers {
		if o != c && !o.closed && o.total > 0 && float64(o.done)/float64(o.total) < float64(c.done)/float64(max(c.total, 1)) {
			return false
		}
	}
	return true
}

// get returns block idx of t for c, fetching it from the source when no
// consumer has yet, waiting while the memory is full and c is not the
// slowest consumer.
func (s *sharedReader) get(c *consumer, t formats.Tensor, idx int64) (*block, error) {
	k := blockKey{t.Name, idx}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		b, ok := s.blocks[k]
		if ok && b.loading {
			s.cond.Wait()
			continue
		}
		if ok {
			return b, b.err
		}
		n := min(blockBytes, t.Size()-idx*blockBytes)
		if s.used+n > s.capacity && !s.slowest(c) {
			s.cond.Wait()
			continue
		}
		b = &block{loading: true, left: map[*consumer]int64{}}
		again := s.seen(k)
		for _, o := range s.consumers {
			if p := o.passes[t.Name]; p > 0 && !o.closed && !again {
				b.left[o] = int64(p) * n
			}
		}
		if b.left[c] == 0 {
			b.left[c] = n // a read the consumer did not declare: keep it for this one
		}
		if again {
			s.refetched += n
		}
		s.blocks[k] = b
		s.used += n
		s.peak = max(s.peak, s.used)
		s.mu.Unlock()
		data := make([]byte, n)
		_, err := t.ReadAt(data, idx*blockBytes)
		s.mu.Lock()
		b.data, b.err, b.loading = data, err, false
		s.fetched += n
		s.cond.Broadcast()
		return b, err
	}
}

// seen records that block k was fetched, and reports whether it had been
// before (the caller holds mu).
func (s *sharedReader) seen(k blockKey) bool {
	if s.history == nil {
		s.history = map[blockKey]bool{}
	}
	was := s.history[k]
	s.history[k] = true
	return was
}

// consumed records that c read n bytes of block b, dropping the block once
// no consumer has any left to read.
func (s *sharedReader) consumed(c *consumer, k blockKey, b *block, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.done += n
	if left, ok := b.left[c]; ok {
		if left -= n; left > 0 {
			b.left[c] = left
		} else {
			delete(b.left, c)
		}
	}
	s.dropIfDone(k, b)
	s.cond.Broadcast()
}

func (s *sharedReader) dropIfDone(k blockKey, b *block) {
	if len(b.left) == 0 && !b.loading && s.blocks[k] == b {
		delete(s.blocks, k)
		s.used -= int64(len(b.data))
	}
}

// close ends consumer c (its export finished or failed): whatever it had
// left to read is released.
func (c *consumer) close() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c.closed = true
	for k, b := range s.blocks {
		delete(b.left, c)
		s.dropIfDone(k, b)
	}
	s.cond.Broadcast()
}
