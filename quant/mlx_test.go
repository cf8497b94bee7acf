package quant

import (
	"encoding/binary"
	"math"
	"testing"
)

// mlxWord reads word j of a packed row.
func mlxWord(packed []byte, j int) uint32 { return binary.LittleEndian.Uint32(packed[4*j:]) }

func TestMLXPacking(t *testing.T) {
	// 4 bits: word j = Σ q[8j+k] << 4k. A ramp 0..15 twice with group 32:
	// min 0 (|0| < |15|, so scale < 0, bias = max = 15: code q = 15 − v).
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i % 16)
	}
	packed := make([]byte, 16)
	s, b := make([]float32, 1), make([]float32, 1)
	MLXQuantizeRow(packed, s, b, x, 4, 32)
	if s[0] != -1 || b[0] != 15 {
		t.Fatalf("scale %v bias %v, want −1 and 15", s[0], b[0])
	}
	if w := mlxWord(packed, 0); w != 0x89abcdef {
		t.Errorf("word 0 = %#08x, want 0x89abcdef (codes 15,14,…,8 from bit 0 up)", w)
	}
	back := make([]float32, 32)
	MLXDequantizeRow(back, packed, s, b, 4, 32)
	for i := range x {
		if back[i] != x[i] {
			t.Fatalf("element %d: %v → %v", i, x[i], back[i])
		}
	}
	// A group of zeros: scale −1e−7, bias 0, codes 0.
	z := make([]float32, 64)
	p := make([]byte, 64*3/8)
	MLXQuantizeRow(p, s, b, z, 3, 64)
	if s[0] != -1e-7 || b[0] != 0 {
		t.Errorf("zero group: scale %v bias %v", s[0], b[0])
	}
}

func TestMLXRoundTripAllBits(t *testing.T) {
	x := goldenInput(4096)
	for _, bits := range []int{2, 3, 4, 5, 6, 8} {
		for _, g := range []int{32, 64, 128} {
			packed := make([]byte, len(x)*bits/8)
			s, b := make([]float32, len(x)/g), make([]float32, len(x)/g)
			MLXQuantizeRow(packed, s, b, x, bits, g)
			back := make([]float32, len(x))
			MLXDequantizeRow(back, packed, s, b, bits, g)
			var se, sx float64
			for i := range x {
				d := float64(back[i] - x[i])
				se += d * d
				sx += float64(x[i]) * float64(x[i])
			}
			// Each extra bit halves the step: the error bound tightens with bits.
			if rel := math.Sqrt(se / sx); rel > 2.5/float64(int(1)<<bits) {
				t.Errorf("bits %d group %d: relative RMS error %.4f", bits, g, rel)
			}
		}
	}
}
