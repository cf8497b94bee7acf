//go:build amd64 && !noasm

package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// dotBF16x32 and dotF32x32 (dot_amd64.s) sum the first n (a multiple of
// 32) products into 32 lanes, exactly as the Go loops' 32 accumulators do.
//
//go:noescape
func dotBF16x32(a *float32, w *uint16, n int, acc *[32]float32)

//go:noescape
func dotF32x32(a, b *float32, n int, acc *[32]float32)

//go:noescape
func dotBF16x32z(a *float32, w *uint16, n int, acc *[32]float32)

var (
	useAVX2   = cpu.X86.HasAVX2
	useAVX512 = cpu.X86.HasAVX512F
)

// Dot returns Σ a[i]·b[i] (see dotGo for the order).
func Dot(a, b []float32) float32 {
	n := len(a) &^ 31
	if !useAVX2 || n == 0 {
		return dotGo(a, b)
	}
	b = b[:len(a)]
	var s [32]float32
	dotF32x32(&a[0], &b[0], n, &s)
	for i := n; i < len(a); i++ {
		s[i&31] += float32(a[i] * b[i])
	}
	return reduce32(&s)
}

// DotBF16 returns Σ a[i]·w[i] for little-endian bf16 w (see dotBF16Go).
func DotBF16(a []float32, w []byte) float32 {
	n := len(a) &^ 31
	if !useAVX2 || n == 0 {
		return dotBF16Go(a, w)
	}
	w = w[:2*len(a)]
	var s [32]float32
	if useAVX512 {
		dotBF16x32z(&a[0], (*uint16)(unsafe.Pointer(&w[0])), n, &s)
	} else {
		dotBF16x32(&a[0], (*uint16)(unsafe.Pointer(&w[0])), n, &s)
	}
	for i := n; i < len(a); i++ {
		s[i&31] += float32(a[i] * bf16At(w, i))
	}
	return reduce32(&s)
}
