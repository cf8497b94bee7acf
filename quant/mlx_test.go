package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
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

// TestMLXPackingEveryWidth checks the packed layout of a hand-built row at
// each bit width: integer values 0…2^bits−1 with both ends present make
// scale −1 and bias 2^bits−1 exactly, so code i is 2^bits−1−x[i]. The
// expected bytes are built independently as a string of bits, element 0's
// least significant bit first (MLX's CPU packing: one little-endian stream
// per row), and for 2 and 8 bits also written out by hand.
func TestMLXPackingEveryWidth(t *testing.T) {
	for _, bits := range []int{2, 3, 4, 5, 6, 8} {
		nBins := 1<<bits - 1
		x := make([]float32, 32)
		for i := range x {
			x[i] = float32((i*37 + 11) % (nBins + 1))
		}
		x[0], x[1] = 0, float32(nBins)
		packed := make([]byte, len(x)*bits/8)
		s, b := make([]float32, 1), make([]float32, 1)
		MLXQuantizeRow(packed, s, b, x, bits, 32)
		if s[0] != -1 || b[0] != float32(nBins) {
			t.Fatalf("%d bits: scale %v bias %v, want −1 and %d", bits, s[0], b[0], nBins)
		}
		var stream strings.Builder
		for _, v := range x {
			code := nBins - int(v)
			for k := 0; k < bits; k++ {
				stream.WriteByte(byte('0' + (code>>k)&1))
			}
		}
		bitsStr := stream.String()
		if len(bitsStr) != 8*len(packed) {
			t.Fatalf("%d bits: %d bits of codes for %d bytes", bits, len(bitsStr), len(packed))
		}
		for j := 0; j < len(packed); j++ {
			want := 0
			for k := 7; k >= 0; k-- {
				want = want<<1 | int(bitsStr[8*j+k]-'0')
			}
			if packed[j] != byte(want) {
				t.Errorf("%d bits: byte %d = %#02x, want %#02x", bits, j, packed[j], want)
				break
			}
		}
	}
	// By hand: 2 bits, x = 0,1,2,3,… gives codes 3,2,1,0 → 3 | 2<<2 | 1<<4 | 0<<6 = 0x1b per byte.
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i % 4)
	}
	p := make([]byte, 8)
	s, b := make([]float32, 1), make([]float32, 1)
	MLXQuantizeRow(p, s, b, x, 2, 32)
	for i, v := range p {
		if v != 0x1b {
			t.Fatalf("2 bits: byte %d = %#02x, want 0x1b", i, v)
		}
	}
	// By hand: 8 bits, one byte per element holding 255 − x.
	for i := range x {
		x[i] = float32((i * 97) % 256)
	}
	x[1] = 255
	p = make([]byte, 32)
	MLXQuantizeRow(p, s, b, x, 8, 32)
	for i, v := range p {
		if v != byte(255-int(x[i])) {
			t.Fatalf("8 bits: byte %d = %d, want %d", i, v, 255-int(x[i]))
		}
	}
}

// TestDotMLX: for 4- and 8-bit rows, every group size and scale dtype, the
// AVX2 block sums equal the Go twin's bit for bit (rows of whole groups of
// eight blocks and tails), and DotMLX is within the activation's rounding
// of the exact product: the dequantized row (scales as stored) times the
// unrounded activation.
func TestDotMLX(t *testing.T) {
	x := goldenInput(2 * 4096)
	for _, bits := range []int{4, 8} {
		for _, group := range []int{32, 64, 128} {
			for _, sdt := range []formats.DType{formats.BF16, formats.F16, formats.F32} {
				for _, n := range []int{256, 384, 1152} {
					wx, ax := x[:n], x[4096:4096+n]
					packed := make([]byte, n*bits/8)
					sc, bs := make([]float32, n/group), make([]float32, n/group)
					MLXQuantizeRow(packed, sc, bs, wx, bits, group)
					scb, bsb := make([]byte, len(sc)*sdt.Size()), make([]byte, len(bs)*sdt.Size())
					formats.EncodeFloat32(scb, sc, sdt)
					formats.EncodeFloat32(bsb, bs, sdt)
					formats.DecodeFloat32(sc, scb, sdt)
					formats.DecodeFloat32(bs, bsb, sdt)
					var a MLXAct
					QuantizeMLXAct(&a, ax, bits, group)
					got := DotMLX(packed, scb, bsb, sdt, &a)
					restore := plainKernels()
					twin := DotMLX(packed, scb, bsb, sdt, &a)
					restore()
					what := fmt.Sprintf("%d bits, group %d, %v scales, %d values", bits, group, sdt, n)
					if math.Float32bits(got) != math.Float32bits(twin) {
						t.Fatalf("%s: kernel %v, Go twin %v", what, got, twin)
					}
					// the same values stored as float32 take the general loop
					scf, bsf := make([]byte, 4*len(sc)), make([]byte, 4*len(bs))
					formats.EncodeFloat32(scf, sc, formats.F32)
					formats.EncodeFloat32(bsf, bs, formats.F32)
					if f32 := DotMLX(packed, scf, bsf, formats.F32, &a); math.Float32bits(f32) != math.Float32bits(got) {
						t.Fatalf("%s: %v, with the scales as float32 %v", what, got, f32)
					}
					back := make([]float32, n)
					MLXDequantizeRow(back, packed, sc, bs, bits, group)
					var exact, mag float64
					for i := range back {
						exact += float64(back[i]) * float64(ax[i])
						mag += math.Abs(float64(back[i]) * float64(ax[i]))
					}
					if d := math.Abs(float64(got) - exact); d > 0.01*mag+1e-6 {
						t.Fatalf("%s: %v, exact %v (Σ|w·a| %v)", what, got, exact, mag)
					}
				}
			}
		}
	}
}
