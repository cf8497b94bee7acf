//go:build amd64 && !noasm

package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// gemm6x4h (gemm_amd64.s) is gemm6x4hGo with the half chosen by the
// caller (x and w advanced by 16 elements for the high lanes) and strides
// in bytes.
//
//go:noescape
func gemm6x4h(x *float32, xstride int, w *float32, wstride, n int, acc *[24][16]float32)

//go:noescape
func reduce24(lo, hi *[24][16]float32, out *[24]float32)

//go:noescape
func widenBF16(dst *float32, src *uint16, n int)

//go:noescape
func prefetchL2(p *byte, n int)

// useGEMM selects the blocked GEMM for prefill products: its micro-kernel
// holds 24 accumulators of 16 lanes and the 4 vectors of W, which needs
// AVX-512's 32 registers.
var useGEMM = cpu.X86.HasAVX512F

// gemmAsm is the assembly micro-kernel with gemm6x4hGo's arguments.
func gemmAsm(x []float32, xs int, w []float32, ws, n, h int, acc *[24][16]float32) {
	if n == 0 {
		return
	}
	_ = w[(gemmNR-1)*ws+n-1]
	_ = x[(gemmMR-1)*xs+n-1]
	gemm6x4h(&x[16*h], 4*xs, &w[16*h], 4*ws, n, acc)
}

// widenChunk widens columns [k0, k0+len(dst)) of row i of W into dst
// (bf16 rows sixteen at a time; see widenChunkGo for row).
func widenChunk(W *Mat, i, k0 int, dst, row []float32) {
	if W.Kind != BF16 || W.Decoder != nil || W.RoundBF16 {
		widenChunkGo(W, i, k0, dst, row)
		return
	}
	at := i*W.Cols + k0
	src := W.Data[2*at : 2*(at+len(dst))]
	n := len(dst) &^ 15
	if n > 0 {
		widenBF16(&dst[0], (*uint16)(unsafe.Pointer(&src[0])), n)
	}
	for j := n; j < len(dst); j++ {
		dst[j] = bf16At(src, j)
	}
}

// prefetchChunk asks for columns [k0, k1) of rows [lo, hi) of W's bytes
// to be brought into L2.
func prefetchChunk(W *Mat, lo, hi, k0, k1 int) {
	if W.Data == nil || W.Decoder != nil || lo >= hi {
		return
	}
	b := len(W.Data) / W.Rows / W.Cols // bytes per element
	for i := lo; i < hi; i++ {
		prefetchL2(&W.Data[(i*W.Cols+k0)*b], (k1-k0)*b)
	}
}
