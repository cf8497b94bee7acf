//go:build !unix

package reference

import (
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
)

// offHeap leaves the tensors in the heap where there is no anonymous mmap.
func offHeap(b *testing.B, ts map[string]formats.Tensor) map[string]formats.Tensor { return ts }
