//go:build amd64 && !noasm

package quant

import "github.com/sambay-conv/sambay-conv/ggml"

//go:noescape
func dequantQ4_0AVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ4_1AVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ5_0AVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ5_1AVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ8_0AVX2(dst *float32, src *byte, nb int)

// dequantLegacyFast widens a row of a legacy type (Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0) with AVX2 and F16C: the same conversions, products and sums as the
// type's Go loop, eight elements at a time. It reports false, doing
// nothing, when the processor lacks either extension.
func dequantLegacyFast(t ggml.Type, dst []float32, src []byte) bool {
	nb := len(dst) / qk
	if !useAVX2 || !useF16C || nb == 0 {
		return false
	}
	_ = src[nb*t.RowBytes(qk)-1]
	switch t {
	case ggml.TypeQ4_0:
		dequantQ4_0AVX2(&dst[0], &src[0], nb)
	case ggml.TypeQ4_1:
		dequantQ4_1AVX2(&dst[0], &src[0], nb)
	case ggml.TypeQ5_0:
		dequantQ5_0AVX2(&dst[0], &src[0], nb)
	case ggml.TypeQ5_1:
		dequantQ5_1AVX2(&dst[0], &src[0], nb)
	case ggml.TypeQ8_0:
		dequantQ8_0AVX2(&dst[0], &src[0], nb)
	default:
		return false
	}
	return true
}
