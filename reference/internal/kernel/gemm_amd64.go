//go:build amd64 && !noasm

package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// gemm6x4h and gemm3x3q (gemm_amd64.s) are gemmPartGo for the 6×4 tile
// of two 16-lane parts and the 3×3 tile of four 8-lane parts, with the
// part chosen by the caller (x and w advanced to its first lane) and
// strides in bytes.
//
//go:noescape
func gemm6x4h(x *float32, xstride int, w *float32, wstride, n int, acc *float32, zero bool)

//go:noescape
func gemm3x3q(x *float32, xstride int, w *float32, wstride, n int, acc *float32, zero bool)

//go:noescape
func reduce24(lo, hi, out *float32)

//go:noescape
func widenBF16h(dst *float32, half int, src *uint16, n int)

//go:noescape
func widenBF16q(dst *float32, quarter int, src *uint16, n int)

//go:noescape
func prefetchL2(p *byte, n int)

// gemm512 needs AVX-512's 32 registers (24 accumulators, 4 vectors of W);
// gemm256 fits AVX2's 16.
var (
	gemm512 = &gemmImpl{mr: 6, nr: 4, parts: 2, kern: asmKernel(6, 4, 2, gemm6x4h),
		reduce: func(acc, out []float32) {
			_, _ = acc[2*24*16-1], out[23]
			reduce24(&acc[0], &acc[24*16], &out[0])
		},
	}
	gemm256 = &gemmImpl{mr: 3, nr: 3, parts: 4, kern: asmKernel(3, 3, 4, gemm3x3q),
		reduce: func(acc, out []float32) { reducePartsGo(9, 4, acc, out) },
	}
)

// asmKernel wraps an assembly micro-kernel of an mr×nr tile and parts
// parts in gemmImpl.kern's form: bounds checked once, the part's first
// lane of X and of the panel passed, strides in bytes.
func asmKernel(mr, nr, parts int, fn func(x *float32, xstride int, w *float32, wstride, n int, acc *float32, zero bool)) func(x []float32, xs int, w []float32, ws, n, q int, acc []float32, zero bool) {
	pw := 32 / parts
	size := mr * nr * pw
	return func(x []float32, xs int, w []float32, ws, n, q int, acc []float32, zero bool) {
		if n == 0 {
			if zero {
				clear(acc[:size])
			}
			return
		}
		_, _, _ = w[(nr-1)*ws+n-1], x[(mr-1)*xs+n-1], acc[size-1]
		fn(&x[pw*q], 4*xs, &w[q*n/parts], 4*ws, n, &acc[0], zero)
	}
}

// gemmUsed is the GEMM MatMul runs for prefill products (nil: none).
var gemmUsed = func() *gemmImpl {
	switch {
	case cpu.X86.HasAVX512F:
		return gemm512
	case cpu.X86.HasAVX2:
		return gemm256
	}
	return nil
}()

// gemmAsm lists the assembly GEMMs this CPU can run, for the tests.
func gemmAsm() []*gemmImpl {
	var g []*gemmImpl
	if cpu.X86.HasAVX512F {
		g = append(g, gemm512)
	}
	if cpu.X86.HasAVX2 {
		g = append(g, gemm256)
	}
	return g
}

// widenChunk widens columns [k0, k0+len(dst)) of row i of W into dst in
// the panel layout of parts (see widenChunkGo), bf16 rows with vector
// loops where the CPU has them.
func widenChunk(W *Mat, i, k0 int, dst, row []float32, parts int) {
	k32 := len(dst) &^ 31
	fast := W.Kind == BF16 && W.Decoder == nil && !W.RoundBF16 && k32 > 0 &&
		(parts == 2 && useAVX512 || parts == 4 && useAVX2)
	if !fast {
		widenChunkGo(W, i, k0, dst, row, parts)
		return
	}
	at := i*W.Cols + k0
	src := W.Data[2*at : 2*(at+len(dst))]
	if parts == 2 {
		widenBF16h(&dst[0], 4*k32/2, (*uint16)(unsafe.Pointer(&src[0])), k32)
	} else {
		widenBF16q(&dst[0], 4*k32/4, (*uint16)(unsafe.Pointer(&src[0])), k32)
	}
	for j := k32; j < len(dst); j++ {
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
