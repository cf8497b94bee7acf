package quant

import (
	"fmt"
	"math"
)

// MLX affine quantization (ml-explore/mlx 846d176: mlx/backend/cpu/
// quantized.cpp 1149–1212, mlx/ops.cpp 4988–5087; docs/MLX.md).

// MLXCheck reports whether bits and group size are MLX affine parameters.
func MLXCheck(bits, group int) error {
	switch bits {
	case 2, 3, 4, 5, 6, 8:
	default:
		return fmt.Errorf("mlx: bits %d (want 2, 3, 4, 5, 6 or 8)", bits)
	}
	switch group {
	case 32, 64, 128:
	default:
		return fmt.Errorf("mlx: group size %d (want 32, 64 or 128)", group)
	}
	return nil
}

// MLXQuantizeRow quantizes one row x (len a multiple of group) as MLX's CPU
// kernel does: per group the larger-magnitude end is made exactly
// representable, codes use rint, and scale and bias are returned in float32
// (the caller casts them to the weight dtype after coding, as MLX does).
// packed receives len(x)·bits/8 bytes: one little-endian bit stream per row,
// element 0 in the low bits.
func MLXQuantizeRow(packed []byte, scales, biases []float32, x []float32, bits, group int) {
	nBins := float32(int(1)<<bits - 1)
	const eps = float32(1e-7)
	codes := make([]uint32, group)
	var acc uint64
	var nacc uint
	out := 0
	for g := 0; g < len(x)/group; g++ {
		v := x[g*group : (g+1)*group]
		wMax, wMin := float32(math.Inf(-1)), float32(math.Inf(1))
		for _, e := range v {
			wMax = max(wMax, e)
			wMin = min(wMin, e)
		}
		mask := abs32(wMin) > abs32(wMax)
		scale := max((wMax-wMin)/nBins, eps)
		if !mask {
			scale = -scale
		}
		edge := wMax
		if mask {
			edge = wMin
		}
		q0 := float32(math.RoundToEven(float64(edge / scale)))
		var bias float32
		if q0 != 0 {
			scale = edge / q0
			bias = edge
		}
		for i, e := range v {
			q := float32(math.RoundToEven(float64((e - bias) / scale)))
			codes[i] = uint32(min(max(q, 0), nBins))
		}
		scales[g], biases[g] = scale, bias
		for _, c := range codes {
			acc |= uint64(c) << nacc
			nacc += uint(bits)
			for nacc >= 8 {
				packed[out] = byte(acc)
				out++
				acc >>= 8
				nacc -= 8
			}
		}
	}
}

// MLXDequantizeRow widens one packed row: w = scale·q + bias per group.
func MLXDequantizeRow(dst []float32, packed []byte, scales, biases []float32, bits, group int) {
	mask := uint64(1)<<bits - 1
	var acc uint64
	var nacc uint
	in := 0
	for i := range dst {
		for nacc < uint(bits) {
			acc |= uint64(packed[in]) << nacc
			in++
			nacc += 8
		}
		q := float32(acc & mask)
		acc >>= uint(bits)
		nacc -= uint(bits)
		g := i / group
		dst[i] = float32(scales[g]*q) + biases[g]
	}
}
