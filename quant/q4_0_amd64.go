//go:build amd64 && !noasm

package quant

import "golang.org/x/sys/cpu"

//go:noescape
func q4_0Codes(x *float32, id float32, out *byte)

var useAVX2 = cpu.X86.HasAVX2

// q4_0Pack writes the 16 code bytes of one block (see q4_0PackGo).
func q4_0Pack(out []byte, xb *[qk]float32, id float32) {
	if useAVX2 {
		q4_0Codes(&xb[0], id, &out[0])
		return
	}
	q4_0PackGo(out, xb, id)
}

//go:noescape
func absMax32(x *float32) (amax float32, idx int)

// signedAbsMax returns the element of largest magnitude of a block, the first
// one when several tie, and 0 for a block of zeros (see signedAbsMaxGo).
func signedAbsMax(xb *[qk]float32) (float32, float32) {
	if !useAVX2 {
		return signedAbsMaxGo(xb)
	}
	amax, i := absMax32(&xb[0])
	if i < 0 { // a NaN element
		return signedAbsMaxGo(xb)
	}
	if amax == 0 {
		return 0, 0
	}
	return amax, xb[i]
}

// absMaxQ8 is Q8_0's block magnitude (see absMaxFold).
func absMaxQ8(xb *[qk]float32) float32 {
	if !useAVX2 {
		return absMaxFold(xb)
	}
	amax, i := absMax32(&xb[0])
	if i < 0 { // a NaN element: the order matters
		return absMaxFold(xb)
	}
	return amax
}

//go:noescape
func q8_0Codes(x *float32, id float32, out *byte)

// q8_0Pack writes the 32 int8 codes of one block (see q8_0PackGo).
func q8_0Pack(out []byte, xb *[qk]float32, id float32) {
	if useAVX2 {
		q8_0Codes(&xb[0], id, &out[0])
		return
	}
	q8_0PackGo(out, xb, id)
}

//go:noescape
func minMax32(x *float32) (mn, mx float32)

// minMaxBlock returns the smallest and largest element of a block as
// ggml's loop finds them (see minMax): where either is a zero, whose sign
// depends on the order of comparisons, the block is searched in ggml's order.
func minMaxBlock(xb *[qk]float32) (float32, float32) {
	if !useAVX2 {
		return minMax(xb[:])
	}
	mn, mx := minMax32(&xb[0])
	if mn == 0 || mx == 0 {
		return minMax(xb[:])
	}
	return mn, mx
}

//go:noescape
func affineCodes(x *float32, mn, id, add float32, clamp int32, out *byte) (qh uint32)

// affinePack writes the 16 low-nibble bytes of a Q4_1/Q5_1 block and
// returns the codes' bit 4 (see affinePackGo).
func affinePack(out []byte, xb *[qk]float32, mn, id, add float32, clamp int32) uint32 {
	if useAVX2 {
		return affineCodes(&xb[0], mn, id, add, clamp, &out[0])
	}
	return affinePackGo(out, xb, mn, id, add, clamp)
}

// q5_0Pack writes the 16 low-nibble bytes of a Q5_0 block and returns the
// codes' bit 4 (see q5_0PackGo).
func q5_0Pack(out []byte, xb *[qk]float32, id float32) uint32 {
	if useAVX2 {
		return affineCodes(&xb[0], 0, id, 16.5, 31, &out[0])
	}
	return q5_0PackGo(out, xb, id)
}

// plainKernels switches to the Go twins of the assembly kernels (for
// benchmarks and tests) until the returned function is called.
func plainKernels() (restore func()) {
	prev, prevF16C, prev512 := useAVX2, useF16C, useAVX512BW
	useAVX2, useF16C, useAVX512BW = false, false, false
	return func() { useAVX2, useF16C, useAVX512BW = prev, prevF16C, prev512 }
}

// avx2Only turns off the AVX-512 variants (tests check both kernels where
// the machine has AVX-512).
func avx2Only() (restore func()) {
	prev := useAVX512BW
	useAVX512BW = false
	return func() { useAVX512BW = prev }
}

//go:noescape
func affineBlocks(x *float32, out *byte, nb int, levels float32, clamp int32, bs int) (done int)

// affineRun quantizes whole Q4_1 (bs 20) or Q5_1 (bs 24) blocks from the
// start of x into dst in one assembly call, until a block needs ggml's
// ordered search for its minimum or maximum (see affineBlocks); it returns
// how many it did, 0 without AVX2.
func affineRun(dst []byte, x []float32, levels float32, clamp int32, bs int) int {
	nb := len(x) / qk
	if !useAVX2 || nb == 0 {
		return 0
	}
	_ = dst[nb*bs-1]
	return affineBlocks(&x[0], &dst[0], nb, levels, clamp, bs)
}

//go:noescape
func q4_0Blocks(x *float32, out *byte, nb int) (done int)

//go:noescape
func q5_0Blocks(x *float32, out *byte, nb int) (done int)

//go:noescape
func q8_0Blocks(x *float32, out *byte, nb int) (done int)

// symmetricRun quantizes whole Q4_0, Q5_0 or Q8_0 blocks (bs 18, 22, 34
// bytes) from the start of x into dst in one assembly call, until a block
// holds a NaN (see q4_0Blocks); it returns how many it did, 0 without AVX2.
func symmetricRun(dst []byte, x []float32, bs int) int {
	nb := len(x) / qk
	if !useAVX2 || nb == 0 {
		return 0
	}
	_ = dst[nb*bs-1]
	switch bs {
	case 18:
		return q4_0Blocks(&x[0], &dst[0], nb)
	case 22:
		return q5_0Blocks(&x[0], &dst[0], nb)
	default:
		return q8_0Blocks(&x[0], &dst[0], nb)
	}
}
