package quant

import (
	"encoding/binary"
	"math"

	"github.com/sambay-conv/sambay-conv/ggml"
)

// Legacy block types, 32 elements per block (ggml-quants.c 113–300 for the
// quantizers, 459–567 for the dequantizers). Products are rounded to
// float32 before any addition (see the package comment on FMA).

const qk = 32

func quantizeQ4_0(dst []byte, x []float32) {
	nb := len(x) / qk
	for b := 0; b < nb; b++ {
		// Runs of blocks go through one assembly call; a block it stops at
		// (one holding a NaN) comes here.
		if b += symmetricRun(dst[b*18:], x[b*qk:nb*qk], 18); b == nb {
			break
		}
		// Array pointers let the compiler drop the bounds checks of the inner loops.
		xb, out := (*[qk]float32)(x[b*qk:]), (*[18]byte)(dst[b*18:])
		_, max := signedAbsMax(xb)
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(out[:], d)
		q4_0Pack(out[2:18], xb, id)
	}
}

// signedAbsMaxGo is maxMagnitude on one block: the Go twin of the
// assembly search.
func signedAbsMaxGo(xb *[qk]float32) (float32, float32) { return maxMagnitude(xb[:]) }

// q4_0PackGo writes byte j = code j | code j+16 << 4 of one block; the
// assembly kernel performs the same operations per element.
func q4_0PackGo(out []byte, xb *[qk]float32, id float32) {
	for j := 0; j < qk/2; j++ {
		x0 := float32(xb[j] * id)
		x1 := float32(xb[j+qk/2] * id)
		q0 := min(15, int8(x0+8.5)) // rule B: truncation of a float32 sum
		q1 := min(15, int8(x1+8.5))
		out[j] = byte(q0) | byte(q1)<<4
	}
}

func dequantizeQ4_0(dst []float32, src []byte) {
	if dequantLegacyFast(ggml.TypeQ4_0, dst, src) {
		return
	}
	for b := 0; b < len(dst)/qk; b++ {
		in, y := (*[18]byte)(src[b*18:]), (*[qk]float32)(dst[b*qk:])
		d := getF16(in[:])
		for j, c := range in[2:] {
			y[j] = float32(int(c&15)-8) * d
			y[j+qk/2] = float32(int(c>>4)-8) * d
		}
	}
}

func minMax(xb []float32) (float32, float32) {
	mn, mx := float32(math.MaxFloat32), float32(-math.MaxFloat32)
	for _, v := range xb {
		if v < mn {
			mn = v
		}
		if v > mx {
			mx = v
		}
	}
	return mn, mx
}

func quantizeQ4_1(dst []byte, x []float32) {
	nb := len(x) / qk
	for b := 0; b < nb; b++ {
		// Runs of blocks go through one assembly call; a block it stops at
		// (a zero minimum or maximum) comes here.
		if b += affineRun(dst[b*20:], x[b*qk:nb*qk], 15, 15, 20); b == nb {
			break
		}
		xb, out := (*[qk]float32)(x[b*qk:]), (*[20]byte)(dst[b*20:])
		mn, mx := minMaxBlock(xb)
		d := (mx - mn) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(out[:], d)
		putF16(out[2:], mn)
		affinePack(out[4:20], xb, mn, id, 0.5, 15)
	}
}

// affinePackGo writes the low nibbles of the codes of one Q4_1/Q5_1 block,
// byte j = q_j & 15 | (q_j+16 & 15) << 4, and returns bit 4 of q_j as bit j,
// with q = min(clamp, trunc((x − mn)·id + 0.5)): Q4_1 clamps at 15, Q5_1
// not at all (ggml converts to uint8 and keeps the low five bits). The
// assembly kernel performs the same float32 operations per element.
func affinePackGo(out []byte, xb *[qk]float32, mn, id, add float32, clamp int32) uint32 {
	var qh uint32
	for j := 0; j < qk/2; j++ {
		x0 := float32((xb[j] - mn) * id)
		x1 := float32((xb[j+qk/2] - mn) * id)
		q0 := min(clamp, int32(x0+add))
		q1 := min(clamp, int32(x1+add))
		out[j] = byte(q0&15) | byte(q1&15)<<4
		qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+qk/2)
	}
	return qh
}

func dequantizeQ4_1(dst []float32, src []byte) {
	if dequantLegacyFast(ggml.TypeQ4_1, dst, src) {
		return
	}
	for b := 0; b < len(dst)/qk; b++ {
		in, y := (*[20]byte)(src[b*20:]), (*[qk]float32)(dst[b*qk:])
		d, m := getF16(in[:]), getF16(in[2:])
		for j, c := range in[4:] {
			y[j] = float32(float32(c&15)*d) + m
			y[j+qk/2] = float32(float32(c>>4)*d) + m
		}
	}
}

func quantizeQ5_0(dst []byte, x []float32) {
	nb := len(x) / qk
	for b := 0; b < nb; b++ {
		if b += symmetricRun(dst[b*22:], x[b*qk:nb*qk], 22); b == nb {
			break
		}
		xb, out := (*[qk]float32)(x[b*qk:]), dst[b*22:(b+1)*22]
		_, max := signedAbsMax(xb)
		d := max / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(out, d)
		binary.LittleEndian.PutUint32(out[2:], q5_0Pack(out[6:22], xb, id))
	}
}

// q5_0PackGo writes the low nibbles of one Q5_0 block's codes q =
// min(31, int8(x·id + 16.5)), packed as q4_0PackGo packs, and returns bit 4
// of q_j as bit j. The assembly kernel (affineCodes with mn 0, which leaves
// every x as it is) truncates to int32 instead of int8; the two agree
// because x·id + 16.5 lies in (−8, 41) whatever the block (|x·id| ≤ 16
// up to the rounding of d and 1/d, at most 1.5× for a subnormal d), where
// both have the same low five bits and the same minimum with 31.
func q5_0PackGo(out []byte, xb *[qk]float32, id float32) uint32 {
	var qh uint32
	for j := 0; j < qk/2; j++ {
		x0 := float32(xb[j] * id)
		x1 := float32(xb[j+qk/2] * id)
		q0 := uint8(min(31, int8(x0+16.5)))
		q1 := uint8(min(31, int8(x1+16.5)))
		out[j] = q0&15 | (q1&15)<<4
		qh |= uint32(q0>>4&1) << j
		qh |= uint32(q1>>4&1) << (j + qk/2)
	}
	return qh
}

func dequantizeQ5_0(dst []float32, src []byte) {
	if dequantLegacyFast(ggml.TypeQ5_0, dst, src) {
		return
	}
	for b := 0; b < len(dst)/qk; b++ {
		in, y := (*[22]byte)(src[b*22:]), (*[qk]float32)(dst[b*qk:])
		d := getF16(in[:])
		qh := binary.LittleEndian.Uint32(in[2:])
		for j, c := range in[6:] {
			h0 := byte(qh>>j&1) << 4
			h1 := byte(qh>>(j+qk/2)&1) << 4
			y[j] = float32(int(c&15|h0)-16) * d
			y[j+qk/2] = float32(int(c>>4|h1)-16) * d
		}
	}
}

func quantizeQ5_1(dst []byte, x []float32) {
	nb := len(x) / qk
	for b := 0; b < nb; b++ {
		if b += affineRun(dst[b*24:], x[b*qk:nb*qk], 31, math.MaxInt32, 24); b == nb {
			break
		}
		xb, out := (*[qk]float32)(x[b*qk:]), (*[24]byte)(dst[b*24:])
		mn, mx := minMaxBlock(xb)
		d := (mx - mn) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(out[:], d)
		putF16(out[2:], mn)
		qh := affinePack(out[8:24], xb, mn, id, 0.5, math.MaxInt32) // no clamp, as ggml
		binary.LittleEndian.PutUint32(out[4:], qh)
	}
}

func dequantizeQ5_1(dst []float32, src []byte) {
	if dequantLegacyFast(ggml.TypeQ5_1, dst, src) {
		return
	}
	for b := 0; b < len(dst)/qk; b++ {
		in, y := (*[24]byte)(src[b*24:]), (*[qk]float32)(dst[b*qk:])
		d, m := getF16(in[:]), getF16(in[2:])
		qh := binary.LittleEndian.Uint32(in[4:])
		for j, c := range in[8:] {
			h0 := byte(qh>>j&1) << 4
			h1 := byte(qh>>(j+qk/2)&1) << 4
			y[j] = float32(float32(c&15|h0)*d) + m
			y[j+qk/2] = float32(float32(c>>4|h1)*d) + m
		}
	}
}

func quantizeQ8_0(dst []byte, x []float32) {
	nb := len(x) / qk
	for b := 0; b < nb; b++ {
		if b += symmetricRun(dst[b*34:], x[b*qk:nb*qk], 34); b == nb {
			break
		}
		xb, out := (*[qk]float32)(x[b*qk:]), dst[b*34:(b+1)*34]
		amax := absMaxQ8(xb)
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(out, d)
		q8_0Pack(out[2:34], xb, id)
	}
}

// absMaxFold is ggml's Q8_0 block magnitude, amax = MAX(amax, |x_j|) in
// order from 0 with MAX(a, b) = a > b ? a : b: a NaN element becomes the
// running value until the next element replaces it (Q4_0 and Q5_0 compare
// the other way round and skip NaNs, see maxMagnitude).
func absMaxFold(xb *[qk]float32) float32 {
	var amax float32
	for _, v := range xb {
		if a := abs32(v); !(amax > a) {
			amax = a
		}
	}
	return amax
}

// q8_0PackGo writes the codes int8(roundf(x·id)) of one block (rule A:
// round half away from zero); the assembly kernel computes the same.
func q8_0PackGo(out []byte, xb *[qk]float32, id float32) {
	for j, v := range xb {
		out[j] = byte(int8(math.Round(float64(float32(v * id)))))
	}
}

func dequantizeQ8_0(dst []float32, src []byte) {
	if dequantLegacyFast(ggml.TypeQ8_0, dst, src) {
		return
	}
	for b := 0; b < len(dst)/qk; b++ {
		in, y := (*[34]byte)(src[b*34:]), (*[qk]float32)(dst[b*qk:])
		d := getF16(in[:])
		for j, c := range in[2:] {
			y[j] = float32(int8(c)) * d
		}
	}
}
