package quant

// Dot products of quantized weight rows with a quantized activation, as
// llama.cpp's CPU backend computes matrix-vector products: the activation
// is quantized once per product (Q8_0 blocks of 32), and each block pair
// contributes its exact integer dot product scaled by both block scales.
// This rounds the activation, so results differ slightly from dequantizing
// the row and taking a float32 dot product (the exact path).

// Q8Act is an activation vector quantized to Q8_0 blocks: the codes, and
// each block's scale widened to float32.
type Q8Act struct {
	Q []int8
	D []float32
}

// QuantizeQ8Act quantizes x (a multiple of 32 elements) as ggml's
// quantize_row_q8_0 does, into a (reusing its storage).
func QuantizeQ8Act(a *Q8Act, x []float32) {
	nb := len(x) / qk
	if cap(a.Q) < nb*qk {
		a.Q, a.D = make([]int8, nb*qk), make([]float32, nb)
	}
	a.Q, a.D = a.Q[:nb*qk], a.D[:nb]
	var blk [34]byte
	for b := 0; b < nb; b++ {
		quantizeQ8_0(blk[:], x[b*qk:(b+1)*qk])
		a.D[b] = getF16(blk[:])
		for j := range qk {
			a.Q[b*qk+j] = int8(blk[2+j])
		}
	}
}

// dotQ8Go is DotQ8_0's Go twin: block b's term float32(Σ w·a) ·
// float32(dw·da) goes into partial sum b mod 8, and the eight partial sums
// are added as ((s0+s4)+(s2+s6)) + ((s1+s5)+(s3+s7)).
func dotQ8Go(w []byte, a *Q8Act, from int, acc *[8]float32) {
	for b := from; b < len(a.D); b++ {
		blk := w[b*34 : b*34+34]
		var sumi int32
		for j := range qk {
			sumi += int32(int8(blk[2+j])) * int32(a.Q[b*qk+j])
		}
		p := float32(getF16(blk) * a.D[b])
		acc[b%8] += float32(float32(sumi) * p)
	}
}

func reduce8(s *[8]float32) float32 {
	return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

// DotQ8_0 returns the dot product of a Q8_0 row w with the activation a
// (as many blocks as a holds).
func DotQ8_0(w []byte, a *Q8Act) float32 {
	var acc [8]float32
	from := dotQ8Fast(w, a, &acc)
	dotQ8Go(w, a, from, &acc)
	return reduce8(&acc)
}

// Q8KAct is an activation vector quantized to Q8_K blocks of 256 (ggml's
// quantize_row_q8_K): the codes, each block's scale, and the sums of the
// codes of each 32-value sub-block (what Q4_K's mins multiply) and of each
// 16-value one (what Q6_K's offset of 32 multiplies).
type Q8KAct struct {
	Q      []int8
	D      []float32
	ASum   []int32
	ASum16 []int32
}

// QuantizeQ8KAct quantizes x (a multiple of 256 elements) as ggml's
// quantize_row_q8_K does, into a (reusing its storage).
func QuantizeQ8KAct(a *Q8KAct, x []float32) {
	nb := len(x) / QK_K
	if cap(a.Q) < nb*QK_K {
		a.Q, a.D, a.ASum, a.ASum16 = make([]int8, nb*QK_K), make([]float32, nb), make([]int32, nb*8), make([]int32, nb*16)
	}
	a.Q, a.D, a.ASum, a.ASum16 = a.Q[:nb*QK_K], a.D[:nb], a.ASum[:nb*8], a.ASum16[:nb*16]
	for b := 0; b < nb; b++ {
		xb, q := x[b*QK_K:(b+1)*QK_K], a.Q[b*QK_K:(b+1)*QK_K]
		amax, vmax := maxMagnitude(xb)
		if amax == 0 {
			a.D[b] = 0
			clear(q)
			clear(a.ASum[b*8 : b*8+8])
			clear(a.ASum16[b*16 : b*16+16])
			continue
		}
		iscale := -127 / vmax
		for j, v := range xb {
			q[j] = int8(min(127, nearestInt(float32(iscale*v))))
		}
		for j := range 16 {
			var s int32
			for _, v := range q[16*j : 16*j+16] {
				s += int32(v)
			}
			a.ASum16[b*16+j] = s
		}
		for j := range 8 {
			a.ASum[b*8+j] = a.ASum16[b*16+2*j] + a.ASum16[b*16+2*j+1]
		}
		a.D[b] = 1 / iscale
	}
}

// q4KScales unpacks the 6-bit scales and mins of every Q4_K block of a
// matrix once (8 scales then 8 mins per block), so that dot products need
// not unpack them per row and activation.
func q4KScales(data []byte) []byte {
	nb := len(data) / 144
	out := make([]byte, 16*nb)
	for b := range nb {
		sc := data[b*144+4 : b*144+16]
		for j := range 8 {
			out[16*b+j], out[16*b+8+j] = getScaleMinK4(j, sc)
		}
	}
	return out
}

// Q4KRows are Q4_K rows with their scales and mins unpacked (q4KScales),
// for dot products against a Q8_K activation.
type Q4KRows struct {
	data, scales []byte
	rowBlocks    int
}

// NewQ4KRows prepares a Q4_K matrix of rows of cols elements.
func NewQ4KRows(data []byte, cols int) *Q4KRows {
	return &Q4KRows{data: data, scales: q4KScales(data), rowBlocks: cols / QK_K}
}

// Dot returns row i · a. Per block the integer sums Σ sc_j·Σ q·a and
// Σ m_j·asum_j are exact, and the block adds
// float32(d·da)·sumi − float32(dmin·da)·summ to one running float32 sum,
// block by block.
func (r *Q4KRows) Dot(i int, a *Q8KAct) float32 {
	nb := r.rowBlocks
	w, sm := r.data[i*nb*144:(i+1)*nb*144], r.scales[i*nb*16:(i+1)*nb*16]
	if acc, ok := dotQ4KFast(w, sm, a, nb); ok {
		return acc
	}
	return dotQ4KGo(w, sm, a)
}

// dotQ4KGo is Dot's Go twin.
func dotQ4KGo(w, sm []byte, a *Q8KAct) float32 {
	var acc float32
	for b := 0; b < len(w)/144; b++ {
		blk, s := w[b*144:(b+1)*144], sm[b*16:(b+1)*16]
		q, aq := blk[16:144], a.Q[b*QK_K:(b+1)*QK_K]
		var sumi, summ int32
		for p := range 4 {
			var lo, hi int32
			for l := range 32 {
				lo += int32(q[32*p+l]&15) * int32(aq[64*p+l])
				hi += int32(q[32*p+l]>>4) * int32(aq[64*p+32+l])
			}
			sumi += int32(s[2*p])*lo + int32(s[2*p+1])*hi
		}
		for j := range 8 {
			summ += int32(s[8+j]) * a.ASum[b*8+j]
		}
		da := a.D[b]
		t := float32(float32(getF16(blk)*da)*float32(sumi)) - float32(float32(getF16(blk[2:])*da)*float32(summ))
		acc += t
	}
	return acc
}

// DotQ6_K returns the dot product of a Q6_K row w with the activation a.
// Codes are stored as q + 32 (0 … 63): per 16-value sub-block j the exact
// integer sum is sc_j·(Σ (q+32)·a − 32·asum16_j), and each block adds
// float32(d·da)·Σ_j to one running float32 sum, block by block.
func DotQ6_K(w []byte, a *Q8KAct) float32 {
	if acc, ok := dotQ6KFast(w, a, len(a.D)); ok {
		return acc
	}
	return dotQ6KGo(w, a)
}

// dotQ6KGo is DotQ6_K's Go twin.
func dotQ6KGo(w []byte, a *Q8KAct) float32 {
	var acc float32
	for b := 0; b < len(a.D); b++ {
		blk := w[b*210 : (b+1)*210]
		ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
		aq := a.Q[b*QK_K : (b+1)*QK_K]
		var isum int32
		for n := range 2 {
			for g := range 4 {
				for h := range 2 {
					var s int32
					for l := 16 * h; l < 16*h+16; l++ {
						lo := ql[64*n+l+32*(g&1)]
						if g >= 2 {
							lo >>= 4
						}
						q := lo&15 | (qh[32*n+l]>>(2*g)&3)<<4
						s += int32(q) * int32(aq[128*n+32*g+l])
					}
					j := 8*n + 2*g + h
					isum += int32(int8(sc[j])) * (s - 32*a.ASum16[b*16+j])
				}
			}
		}
		acc += float32(float32(getF16(blk[208:])*a.D[b]) * float32(isum))
	}
	return acc
}
