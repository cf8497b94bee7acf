//go:build !amd64 || noasm

package kernel

// useGEMM: without the assembly micro-kernel MatMul keeps its row-by-row
// dot products (the plain twin is no faster than them).
const useGEMM = false

func gemmAsm(x []float32, xs int, w []float32, ws, n, h int, acc *[24][16]float32) {
	gemm6x4hGo(x, xs, w, ws, n, h, acc)
}

func reduce24(lo, hi *[24][16]float32, out *[24]float32) { reduceHalvesGo(lo, hi, out) }

func widenChunk(W *Mat, i, k0 int, dst, row []float32) { widenChunkGo(W, i, k0, dst, row) }

func prefetchChunk(W *Mat, lo, hi, k0, k1 int) {}
