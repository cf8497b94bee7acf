//go:build amd64 && !noasm

package quant

import "golang.org/x/sys/cpu"

//go:noescape
func errSums16(x, q *float32, n int, se, sx *[16]float64)

//go:noescape
func nonFinite32(x *float32, n int) bool

// useFMA gates errSums16, which needs FMA beside AVX2.
var useFMA = cpu.X86.HasFMA

// errSums16Fast runs the head of x (a multiple of 16 elements) through
// errSums16 and returns how many elements it took.
func errSums16Fast(x, q []float32, se, sx *[16]float64) int {
	n := len(x) &^ 15
	if !useAVX2 || !useFMA || n == 0 {
		return 0
	}
	errSums16(&x[0], &q[0], n, se, sx)
	return n
}

// nonFiniteFast checks the head of x (a multiple of 32 elements) and
// returns whether it holds a NaN or ±Inf and how many elements it checked.
func nonFiniteFast(x []float32) (bad bool, n int) {
	n = len(x) &^ 31
	if !useAVX2 || n == 0 {
		return false, 0
	}
	return nonFinite32(&x[0], n), n
}
