package quant

import (
	"math"
	"sync"

	"github.com/sambay-conv/sambay-conv/formats"
)

// MLXAct is an activation prepared for dot products with MLX affine rows
// of 4 or 8 bits: Q8_0 blocks of 32 values (for 4 bits, each block's codes
// in the order the row packs its values: the even ones in the low nibbles
// of 16 bytes, then the odd ones in the high nibbles) and the sum of each
// group of the quantized activation: its blocks' float32(float32(Σ a)·da)
// added as DotMLX adds a group's block terms. Taking the bias term from the
// quantized activation too keeps the rounding error Σ w·(x̃ − x), as for
// the symmetric types; with Σ x exact it would be Σ (w − b)·(x̃ − x), about
// twice as large (b is near the group's extreme).
type MLXAct struct {
	Q8Act
	XS          []float32
	Bits, Group int
}

// QuantizeMLXAct prepares x (a multiple of group elements) for rows of the
// given bits (4 or 8) and group size (32, 64 or 128), into a.
func QuantizeMLXAct(a *MLXAct, x []float32, bits, group int) {
	QuantizeQ8Act(&a.Q8Act, x)
	a.Bits, a.Group = bits, group
	if bits == 4 {
		var blk [qk]int8
		for b := range a.D {
			q := a.Q[b*qk : (b+1)*qk]
			for j := range qk / 2 {
				blk[j], blk[qk/2+j] = q[2*j], q[2*j+1]
			}
			copy(q, blk[:])
		}
	}
	ng, bpg := len(x)/group, group/qk
	if cap(a.XS) < ng {
		a.XS = make([]float32, ng)
	}
	a.XS = a.XS[:ng]
	var t [4]float32
	for g := range a.XS {
		for k := range bpg {
			b := g*bpg + k
			t[k] = float32(float32(a.S[b]) * a.D[b])
		}
		a.XS[g] = groupSum(t[:bpg])
	}
}

// groupSum adds a group's 1, 2 or 4 block terms pairwise.
func groupSum(t []float32) float32 {
	switch len(t) {
	case 1:
		return t[0]
	case 2:
		return t[0] + t[1]
	}
	return (t[0] + t[1]) + (t[2] + t[3])
}

// MLXDotSupports reports whether DotMLX takes rows of the given bits with
// scales and biases stored as sdt.
func MLXDotSupports(bits int, sdt formats.DType) bool {
	return (bits == 4 || bits == 8) && (sdt == formats.BF16 || sdt == formats.F16 || sdt == formats.F32)
}

// DotMLX returns the dot product of one MLX affine row (packed codes, and
// its scales and biases stored as sdt: BF16, F16 or F32) with the
// activation a, Σ_g s_g·Σ q·x + b_g·Σ x over its groups g, in this order:
// block b (32 values) gives t_b = float32(float32(Σ q·a)·da_b), the integer
// sum exact; a group's p_g adds its blocks' t pairwise ((t0+t1)+(t2+t3) for
// four); group g adds float32(float32(s_g·p_g) + float32(b_g·XS_g)) to
// partial sum g mod 8, and the eight are summed by reduce8.
func DotMLX(packed, scales, biases []byte, sdt formats.DType, a *MLXAct) float32 {
	nb := len(a.D)
	tp := mlxScratch.Get().(*[]float32)
	defer mlxScratch.Put(tp)
	if cap(*tp) < nb {
		*tp = make([]float32, nb)
	}
	t := (*tp)[:nb]
	from := mlxBlocksFast(packed, a, t)
	mlxBlocksGo(packed, a, t, from)
	var acc [8]float32
	xs := a.XS
	switch {
	case sdt == formats.BF16 && a.Group == 64:
		// the common case (mlx-lm's default group, bf16 scales), inline
		t = t[:2*len(xs)]
		scales, biases = scales[:2*len(xs)], biases[:2*len(xs)]
		for g := range xs {
			p := t[2*g] + t[2*g+1]
			s := math.Float32frombits(uint32(scales[2*g])<<16 | uint32(scales[2*g+1])<<24)
			bi := math.Float32frombits(uint32(biases[2*g])<<16 | uint32(biases[2*g+1])<<24)
			acc[g&7] += float32(float32(s*p) + float32(bi*xs[g]))
		}
	default:
		bpg, es := a.Group/qk, sdt.Size()
		for g := range xs {
			p := groupSum(t[g*bpg : (g+1)*bpg])
			s, bi := scaleAt(scales[g*es:], sdt), scaleAt(biases[g*es:], sdt)
			acc[g&7] += float32(float32(s*p) + float32(bi*xs[g]))
		}
	}
	return reduce8(&acc)
}

// mlxScratch holds DotMLX's block terms between calls.
var mlxScratch = sync.Pool{New: func() any { return new([]float32) }}

// scaleAt decodes one stored scale or bias.
func scaleAt(b []byte, dt formats.DType) float32 {
	switch dt {
	case formats.BF16:
		return math.Float32frombits(uint32(b[0])<<16 | uint32(b[1])<<24)
	case formats.F16:
		return unfp16(uint16(b[0]) | uint16(b[1])<<8)
	}
	return math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

// mlxBlocksGo is the Go twin of the block sums: t_b for blocks from on.
func mlxBlocksGo(packed []byte, a *MLXAct, t []float32, from int) {
	bb := 4 * a.Bits // packed bytes per block
	for b := from; b < len(a.D); b++ {
		w, aq := packed[b*bb:(b+1)*bb], a.Q[b*qk:(b+1)*qk]
		var sumi int32
		if a.Bits == 4 {
			for j, c := range w {
				sumi += int32(c&15)*int32(aq[j]) + int32(c>>4)*int32(aq[qk/2+j])
			}
		} else {
			for j, c := range w {
				sumi += int32(c) * int32(aq[j])
			}
		}
		t[b] = float32(float32(sumi) * a.D[b])
	}
}
