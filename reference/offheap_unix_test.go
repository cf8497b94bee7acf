//go:build unix

package reference

import (
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
)

// offHeap moves the tensors' bytes out of the Go heap into one anonymous
// mapping, as a model's weights are when the CLI maps its files: the heap
// then holds only activations, and the collector paces itself on those
// (with a gigabyte of weights in the heap, every activation of a run was
// a fresh page, a page fault per 4 KiB).
func offHeap(b *testing.B, ts map[string]formats.Tensor) map[string]formats.Tensor {
	var total int64
	for _, t := range ts {
		total += (t.Size() + 63) &^ 63
	}
	mem, err := syscall.Mmap(-1, 0, int(total), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Munmap(mem) })
	out := make(map[string]formats.Tensor, len(ts))
	var off int64
	for n, t := range ts {
		dst := mem[off : off+t.Size()]
		copy(dst, t.Must())
		out[n] = formats.NewTensorBytes(n, t.DType, t.Shape, t.File, dst)
		off += (t.Size() + 63) &^ 63
	}
	clear(ts)
	runtime.GC()
	debug.FreeOSMemory()
	return out
}
