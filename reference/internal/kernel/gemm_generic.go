//go:build !amd64 || noasm

package kernel

// useGEMM: without the assembly micro-kernel MatMul keeps its row-by-row
// dot products (the plain twin is no faster than them).
const useGEMM = false

func gemmKernel(x0, x1, x2, w []float32, wstride, n int, acc *[12][32]float32) {
	gemm3x4Go(x0, x1, x2, w, wstride, n, acc)
}

func widenRow(W *Mat, i int, dst []float32) { W.DecodeRow(i, dst) }

func prefetchRows(W *Mat, lo, hi int) {}

func reduceAll(acc *[12][32]float32, out *[12]float32) { reduceAllGo(acc, out) }
