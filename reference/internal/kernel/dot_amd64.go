//go:build amd64 && !noasm

package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// dotBF16x8 and dotF32x8 (dot_amd64.s) sum the first n (a multiple of 8)
// products into eight lanes, exactly as the Go loops' eight accumulators do.
//
//go:noescape
func dotBF16x8(a *float32, w *uint16, n int, acc *[8]float32)

//go:noescape
func dotF32x8(a, b *float32, n int, acc *[8]float32)

var useAVX2 = cpu.X86.HasAVX2

// Dot returns Σ a[i]·b[i] (see dotGo for the order).
func Dot(a, b []float32) float32 {
	n := len(a) &^ 7
	if !useAVX2 || n == 0 {
		return dotGo(a, b)
	}
	b = b[:len(a)]
	var s [8]float32
	dotF32x8(&a[0], &b[0], n, &s)
	for i := n; i < len(a); i++ {
		s[0] += float32(a[i] * b[i])
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

// DotBF16 returns Σ a[i]·w[i] for little-endian bf16 w (see dotBF16Go).
func DotBF16(a []float32, w []byte) float32 {
	n := len(a) &^ 7
	if !useAVX2 || n == 0 {
		return dotBF16Go(a, w)
	}
	w = w[:2*len(a)]
	var s [8]float32
	dotBF16x8(&a[0], (*uint16)(unsafe.Pointer(&w[0])), n, &s)
	for i := n; i < len(a); i++ {
		s[0] += float32(a[i] * bf16At(w, i))
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}
