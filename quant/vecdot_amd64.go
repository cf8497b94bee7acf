//go:build amd64 && !noasm

package quant

import "golang.org/x/sys/cpu"

var useF16C = cpu.X86.HasF16C

//go:noescape
func dotQ8x8(w *byte, q *int8, d *float32, groups int, acc *[8]float32)

// dotQ8Fast accumulates whole groups of eight blocks with AVX2 and returns
// the first block it left for dotQ8Go.
func dotQ8Fast(w []byte, a *Q8Act, acc *[8]float32) int {
	g := len(a.D) / 8
	if !useAVX2 || !useF16C || g == 0 {
		return 0
	}
	_ = w[g*8*34-1]
	dotQ8x8(&w[0], &a.Q[0], &a.D[0], g, acc)
	return g * 8
}

//go:noescape
func dotQ4K(w *byte, q *int8, asum *int32, d *float32, nb int, acc, accm *[8]float32)

// dotQ45KFast is DotQ4_K and (five) DotQ5_K with AVX2 (false where the
// machine lacks it).
func dotQ45KFast(w []byte, a *Q8KAct, acc, accm *[8]float32, five bool) bool {
	nb := len(a.D)
	if !useAVX2 || !useF16C || nb == 0 {
		return false
	}
	_, _ = a.Q[nb*QK_K-1], a.ASum[nb*8-1]
	if five {
		_ = w[nb*176-1]
		dotQ5K(&w[0], &a.Q[0], &a.ASum[0], &a.D[0], nb, acc, accm)
	} else {
		_ = w[nb*144-1]
		dotQ4K(&w[0], &a.Q[0], &a.ASum[0], &a.D[0], nb, acc, accm)
	}
	return true
}

//go:noescape
func dotQ6K(w *byte, q *int8, bsums *int16, d *float32, nb int, acc *[8]float32)

//go:noescape
func dotQ6Kz(w *byte, q *int8, bsums *int16, d *float32, nb int, acc *[8]float32)

// dotQ6KFast is DotQ6_K with AVX2 (false where the machine lacks it).
func dotQ6KFast(w []byte, a *Q8KAct, acc *[8]float32) bool {
	nb := len(a.D)
	if !useAVX2 || !useF16C || nb == 0 {
		return false
	}
	_ = w[nb*210-1]
	_, _ = a.Q[nb*QK_K-1], a.BSums[nb*16-1]
	if useAVX512BW {
		dotQ6Kz(&w[0], &a.Q[0], &a.BSums[0], &a.D[0], nb, acc)
	} else {
		dotQ6K(&w[0], &a.Q[0], &a.BSums[0], &a.D[0], nb, acc)
	}
	return true
}

//go:noescape
func dotQ5K(w *byte, q *int8, asum *int32, d *float32, nb int, acc, accm *[8]float32)

//go:noescape
func dotQ40x8(w *byte, q *int8, d *float32, groups int, acc *[8]float32, asum *int32)

//go:noescape
func dotQ50x8(w *byte, q *int8, d *float32, groups int, acc *[8]float32, asum *int32)

//go:noescape
func dotQ50x8k(w *byte, q *int8, d *float32, groups int, acc *[8]float32, asum *int32)

// useAVX512BW gates the AVX-512 kernels: dotQ50x8k (byte masks from mask
// registers), dotQ2Kz and dotQ6Kz (both halves of a block per register).
var useAVX512BW = cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// dotQ4_0Fast accumulates whole groups of eight Q4_0 blocks with AVX2 and
// returns the first block it left for dotQ450Go.
func dotQ4_0Fast(w []byte, a *Q8Act, acc *[8]float32) int {
	g := len(a.D) / 8
	if !useAVX2 || !useF16C || g == 0 {
		return 0
	}
	_ = w[g*8*18-1]
	_ = a.S[g*8-1]
	dotQ40x8(&w[0], &a.Q[0], &a.D[0], g, acc, &a.S[0])
	return g * 8
}

// dotQ5_0Fast is dotQ4_0Fast for Q5_0 blocks.
func dotQ5_0Fast(w []byte, a *Q8Act, acc *[8]float32) int {
	g := len(a.D) / 8
	if !useAVX2 || !useF16C || g == 0 {
		return 0
	}
	_ = w[g*8*22-1]
	_ = a.S[g*8-1]
	if useAVX512BW {
		dotQ50x8k(&w[0], &a.Q[0], &a.D[0], g, acc, &a.S[0])
	} else {
		dotQ50x8(&w[0], &a.Q[0], &a.D[0], g, acc, &a.S[0])
	}
	return g * 8
}

//go:noescape
func dotQ2K(w *byte, q *int8, bsums *int16, d *float32, nb int, acc, accm *[8]float32)

//go:noescape
func dotQ2Kz(w *byte, q *int8, bsums *int16, d *float32, nb int, acc, accm *[8]float32)

//go:noescape
func dotQ3K(w *byte, q *int8, bsums *int16, d *float32, nb int, acc *[8]float32)

// dotQ2KFast is DotQ2_K with AVX2 (false where the machine lacks it).
func dotQ2KFast(w []byte, a *Q8KAct, acc, accm *[8]float32) bool {
	nb := len(a.D)
	if !useAVX2 || !useF16C || nb == 0 {
		return false
	}
	_ = w[nb*84-1]
	_, _ = a.Q[nb*QK_K-1], a.BSums[nb*16-1]
	if useAVX512BW {
		dotQ2Kz(&w[0], &a.Q[0], &a.BSums[0], &a.D[0], nb, acc, accm)
	} else {
		dotQ2K(&w[0], &a.Q[0], &a.BSums[0], &a.D[0], nb, acc, accm)
	}
	return true
}

// dotQ3KFast is DotQ3_K with AVX2 (false where the machine lacks it).
func dotQ3KFast(w []byte, a *Q8KAct, acc *[8]float32) bool {
	nb := len(a.D)
	if !useAVX2 || !useF16C || nb == 0 {
		return false
	}
	_ = w[nb*110-1]
	_, _ = a.Q[nb*QK_K-1], a.BSums[nb*16-1]
	dotQ3K(&w[0], &a.Q[0], &a.BSums[0], &a.D[0], nb, acc)
	return true
}

//go:noescape
func mlxT4x8(w *byte, q *int8, d *float32, groups int, t *float32)

//go:noescape
func mlxT8x8(w *byte, q *int8, d *float32, groups int, t *float32, asum *int32)

// mlxBlocksFast computes t_b of DotMLX for whole groups of eight blocks
// with AVX2 and returns the first block it left for mlxBlocksGo.
func mlxBlocksFast(packed []byte, a *MLXAct, t []float32) int {
	g := len(a.D) / 8
	if !useAVX2 || g == 0 {
		return 0
	}
	_, _, _ = packed[g*8*4*a.Bits-1], a.Q[g*8*qk-1], t[g*8-1]
	if a.Bits == 4 {
		mlxT4x8(&packed[0], &a.Q[0], &a.D[0], g, &t[0])
	} else {
		_ = a.S[g*8-1]
		mlxT8x8(&packed[0], &a.Q[0], &a.D[0], g, &t[0], &a.S[0])
	}
	return g * 8
}
