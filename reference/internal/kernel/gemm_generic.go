//go:build !amd64 || noasm

package kernel

// gemmUsed: without an assembly micro-kernel MatMul keeps its row-by-row
// dot products (the plain twin is no faster than them).
var gemmUsed *gemmImpl

func gemmAsm() []*gemmImpl { return nil }

func widenChunk(W *Mat, i, k0 int, dst, row []float32, parts int) {
	widenChunkGo(W, i, k0, dst, row, parts)
}

func prefetchChunk(W *Mat, lo, hi, k0, k1 int) {}
