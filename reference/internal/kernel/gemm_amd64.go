//go:build amd64 && !noasm

package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// gemm3x4 (gemm_amd64.s) is gemm3x4Go with wstride in bytes.
//
//go:noescape
func gemm3x4(x0, x1, x2, w *float32, wstride, n int, acc *[12][32]float32)

//go:noescape
func reduce12(acc *[12][32]float32, out *[12]float32)

// reduceAll sets out[j] = reduce32(&acc[j]) for j < 12.
func reduceAll(acc *[12][32]float32, out *[12]float32) {
	if useGEMM {
		reduce12(acc, out)
		return
	}
	reduceAllGo(acc, out)
}

//go:noescape
func prefetchL2(p *byte, n int)

// prefetchRows asks for rows [lo, hi) of W's bytes to be brought into L2
// (the next panel's, while the micro-kernel works on this one).
func prefetchRows(W *Mat, lo, hi int) {
	if W.Data == nil || lo >= hi || !useGEMM {
		return
	}
	b := len(W.Data) / W.Rows
	prefetchL2(&W.Data[lo*b], (hi-lo)*b)
}

//go:noescape
func widenBF16(dst *float32, src *uint16, n int)

// useGEMM selects the blocked GEMM for prefill products: its micro-kernel
// holds 24 accumulators of 16 lanes, which needs AVX-512's 32 registers.
var useGEMM = cpu.X86.HasAVX512F

func gemmKernel(x0, x1, x2, w []float32, wstride, n int, acc *[12][32]float32) {
	if n == 0 {
		*acc = [12][32]float32{}
		return
	}
	_ = w[3*wstride+n-1]
	_, _, _ = x0[n-1], x1[n-1], x2[n-1]
	gemm3x4(&x0[0], &x1[0], &x2[0], &w[0], 4*wstride, n, acc)
}

// widenRow widens row i of W into dst (W.DecodeRow, with bf16 rows widened
// sixteen at a time).
func widenRow(W *Mat, i int, dst []float32) {
	in := W.Cols
	n := in &^ 15
	if W.Kind != BF16 || W.Decoder != nil || W.RoundBF16 || n == 0 || !useGEMM {
		W.DecodeRow(i, dst)
		return
	}
	src := W.Data[2*i*in : 2*(i+1)*in]
	dst = dst[:in]
	widenBF16(&dst[0], (*uint16)(unsafe.Pointer(&src[0])), n)
	for j := n; j < in; j++ {
		dst[j] = bf16At(src, j)
	}
}
