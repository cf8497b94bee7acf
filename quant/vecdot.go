package quant

// Dot products of quantized weight rows with a quantized activation, as
// llama.cpp's CPU backend computes matrix-vector products: the activation
// is quantized once per product (Q8_0 blocks of 32), and each block pair
// contributes its exact integer dot product scaled by both block scales.
// This rounds the activation, so results differ slightly from dequantizing
// the row and taking a float32 dot product (the exact path).

// Q8Act is an activation vector quantized to Q8_0 blocks: the codes, each
// block's scale widened to float32, and each block's sum of codes (what
// the offsets of Q4_0's and Q5_0's codes multiply).
type Q8Act struct {
	Q []int8
	D []float32
	S []int32
}

// QuantizeQ8Act quantizes x (a multiple of 32 elements) as ggml's
// quantize_row_q8_0 does, into a (reusing its storage).
func QuantizeQ8Act(a *Q8Act, x []float32) {
	nb := len(x) / qk
	if cap(a.Q) < nb*qk {
		a.Q, a.D, a.S = make([]int8, nb*qk), make([]float32, nb), make([]int32, nb)
	}
	a.Q, a.D, a.S = a.Q[:nb*qk], a.D[:nb], a.S[:nb]
	var blk [34]byte
	for b := 0; b < nb; b++ {
		quantizeQ8_0(blk[:], x[b*qk:(b+1)*qk])
		a.D[b] = getF16(blk[:])
		var s int32
		for j := range qk {
			a.Q[b*qk+j] = int8(blk[2+j])
			s += int32(int8(blk[2+j]))
		}
		a.S[b] = s
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
// 16-value one as int16, as ggml's block_q8_K.bsums (what Q6_K's offset of
// 32 multiplies).
type Q8KAct struct {
	Q     []int8
	D     []float32
	ASum  []int32
	BSums []int16
}

// QuantizeQ8KAct quantizes x (a multiple of 256 elements) as ggml's
// quantize_row_q8_K does, into a (reusing its storage).
func QuantizeQ8KAct(a *Q8KAct, x []float32) {
	nb := len(x) / QK_K
	if cap(a.Q) < nb*QK_K {
		a.Q, a.D, a.ASum, a.BSums = make([]int8, nb*QK_K), make([]float32, nb), make([]int32, nb*8), make([]int16, nb*16)
	}
	a.Q, a.D, a.ASum, a.BSums = a.Q[:nb*QK_K], a.D[:nb], a.ASum[:nb*8], a.BSums[:nb*16]
	for b := 0; b < nb; b++ {
		xb, q := x[b*QK_K:(b+1)*QK_K], a.Q[b*QK_K:(b+1)*QK_K]
		amax, vmax := maxMagnitude(xb)
		if amax == 0 {
			a.D[b] = 0
			clear(q)
			clear(a.ASum[b*8 : b*8+8])
			clear(a.BSums[b*16 : b*16+16])
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
			a.BSums[b*16+j] = int16(s) // |s| ≤ 16·127
		}
		for j := range 8 {
			a.ASum[b*8+j] = int32(a.BSums[b*16+2*j]) + int32(a.BSums[b*16+2*j+1])
		}
		a.D[b] = 1 / iscale
	}
}

// DotQ4_K returns the dot product of a Q4_K row w with the activation a,
// in the order ggml's AVX2 kernel uses (ggml_vec_dot_q4_K_q8_K): per block
// the integer sums sc_j·Σ q·a land in eight lanes (lane k holds the codes
// 4k … 4k+3 of every 32-value chunk, all sub-blocks); each lane adds
// float32(float32(sum)·float32(d·da)) to its float32 accumulator, and the
// mins' terms m_j·asum_j (lane j) to a second one with float32(dmin·da);
// the result is the first's eight lanes summed (reduce8) minus the
// second's. The integer sums are exact; only the float order is a choice.
func DotQ4_K(w []byte, a *Q8KAct) float32 {
	var acc, accm [8]float32
	if !dotQ45KFast(w, a, &acc, &accm, false) {
		dotQ45KGo(w, a, &acc, &accm, false)
	}
	return reduce8(&acc) - reduce8(&accm)
}

// DotQ5_K is DotQ4_K for a Q5_K row: the same order, with codes of five
// bits (the fifth from qh).
func DotQ5_K(w []byte, a *Q8KAct) float32 {
	var acc, accm [8]float32
	if !dotQ45KFast(w, a, &acc, &accm, true) {
		dotQ45KGo(w, a, &acc, &accm, true)
	}
	return reduce8(&acc) - reduce8(&accm)
}

// dotQ45KGo is the Go twin of DotQ4_K and (five) DotQ5_K.
func dotQ45KGo(w []byte, a *Q8KAct, acc, accm *[8]float32, five bool) {
	bs, qoff := 144, 16
	if five {
		bs, qoff = 176, 48
	}
	for b := range a.D {
		blk := w[b*bs : (b+1)*bs]
		q, aq := blk[qoff:], (*[QK_K]int8)(a.Q[b*QK_K:])
		var s [8]int32
		for p := range 4 {
			sl, _ := getScaleMinK4(2*p, blk[4:16])
			sh, _ := getScaleMinK4(2*p+1, blk[4:16])
			for l := range 32 {
				lo, hi := q[32*p+l]&15, q[32*p+l]>>4
				if five {
					lo |= (blk[16+l] >> (2 * p) & 1) << 4
					hi |= (blk[16+l] >> (2*p + 1) & 1) << 4
				}
				s[l>>2] += int32(sl)*int32(lo)*int32(aq[64*p+l]) + int32(sh)*int32(hi)*int32(aq[64*p+32+l])
			}
		}
		da := a.D[b]
		dd, dm := float32(getF16(blk[0:])*da), float32(getF16(blk[2:])*da)
		for k := range 8 {
			_, m := getScaleMinK4(k, blk[4:16])
			acc[k] += float32(float32(s[k]) * dd)
			accm[k] += float32(float32(int32(m)*a.ASum[b*8+k]) * dm)
		}
	}
}

// DotQ4_0 returns the dot product of a Q4_0 row w with the Q8_0
// activation a, in DotQ8_0's order: block b's term float32(Σ (q−8)·a) ·
// float32(dw·da) goes into partial sum b mod 8 (the integer sum exact),
// and the eight partial sums are added by reduce8.
func DotQ4_0(w []byte, a *Q8Act) float32 {
	var acc [8]float32
	from := dotQ4_0Fast(w, a, &acc)
	dotQ450Go(w, a, from, &acc, false)
	return reduce8(&acc)
}

// DotQ5_0 is DotQ4_0 for a Q5_0 row: codes q−16 of five bits.
func DotQ5_0(w []byte, a *Q8Act) float32 {
	var acc [8]float32
	from := dotQ5_0Fast(w, a, &acc)
	dotQ450Go(w, a, from, &acc, true)
	return reduce8(&acc)
}

// dotQ450Go is the Go twin of DotQ4_0 and (five) DotQ5_0, from block from.
func dotQ450Go(w []byte, a *Q8Act, from int, acc *[8]float32, five bool) {
	bs, qoff := 18, 2
	if five {
		bs, qoff = 22, 6
	}
	for b := from; b < len(a.D); b++ {
		blk := w[b*bs : (b+1)*bs]
		var qh uint32
		if five {
			qh = uint32(blk[2]) | uint32(blk[3])<<8 | uint32(blk[4])<<16 | uint32(blk[5])<<24
		}
		aq := (*[qk]int8)(a.Q[b*qk:])
		var sumi int32
		for j := range 16 {
			c := blk[qoff+j]
			lo, hi := int32(c&15)-8, int32(c>>4)-8
			if five {
				lo += int32(qh>>j&1)<<4 - 8
				hi += int32(qh>>(j+16)&1)<<4 - 8
			}
			sumi += lo*int32(aq[j]) + hi*int32(aq[16+j])
		}
		p := float32(getF16(blk) * a.D[b])
		acc[b%8] += float32(float32(sumi) * p)
	}
}

// DotQ6_K returns the dot product of a Q6_K row w with the activation a,
// in the order ggml's AVX2 kernel uses (ggml_vec_dot_q6_K_q8_K). Codes are
// stored as c = q + 32 (0 … 63): per block the exact integer sums
// sc_j·Σ c·a land in eight lanes (lane k holds the codes 4k … 4k+3 of every
// 32-value chunk), lane k less 32·(sc_2k·bsum_2k + sc_2k+1·bsum_2k+1) (the
// offset, through the activation's 16-value sums); each lane adds
// float32(float32(sum)·float32(d·da)) to its float32 accumulator, and the
// result is the eight lanes summed (reduce8).
func DotQ6_K(w []byte, a *Q8KAct) float32 {
	var acc [8]float32
	if !dotQ6KFast(w, a, &acc) {
		dotQ6KGo(w, a, &acc)
	}
	return reduce8(&acc)
}

// dotQ6KGo is DotQ6_K's Go twin.
func dotQ6KGo(w []byte, a *Q8KAct, acc *[8]float32) {
	for b := range a.D {
		blk := (*[210]byte)(w[b*210:])
		ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
		aq := (*[QK_K]int8)(a.Q[b*QK_K:])
		var s [8]int32
		for n := range 2 {
			for g := range 4 {
				for l := range 32 {
					lo := ql[64*n+l+32*(g&1)]
					if g >= 2 {
						lo >>= 4
					}
					c := lo&15 | (qh[32*n+l]>>(2*g)&3)<<4
					j := 8*n + 2*g + l/16
					s[l>>2] += int32(int8(sc[j])) * int32(c) * int32(aq[128*n+32*g+l])
				}
			}
		}
		for k := range 8 {
			bs := a.BSums[b*16+2*k:]
			s[k] -= 32 * (int32(int8(sc[2*k]))*int32(bs[0]) + int32(int8(sc[2*k+1]))*int32(bs[1]))
		}
		dd := float32(getF16(blk[208:]) * a.D[b])
		for k := range 8 {
			acc[k] += float32(float32(s[k]) * dd)
		}
	}
}

// DotQ2_K returns the dot product of a Q2_K row w with the activation a,
// in the lane order of DotQ6_K: per block the exact integer sums
// sc_j·Σ q·a (q the 2-bit codes, sc_j the low nibble of sub-block j's
// scale byte) land in eight lanes (lane k holds the codes 4k … 4k+3 of
// every 32-value chunk); lane k of a second set holds
// m_2k·bsum_2k + m_2k+1·bsum_2k+1 (m_j the high nibble). Each lane adds
// float32(float32(sum)·float32(d·da)) to its accumulator and the mins'
// lanes float32(float32(sum)·float32(dmin·da)) to theirs; the result is
// reduce8 of the first less reduce8 of the second.
func DotQ2_K(w []byte, a *Q8KAct) float32 {
	var acc, accm [8]float32
	if !dotQ2KFast(w, a, &acc, &accm) {
		dotQ2KGo(w, a, &acc, &accm)
	}
	return reduce8(&acc) - reduce8(&accm)
}

// dotQ2KGo is DotQ2_K's Go twin.
func dotQ2KGo(w []byte, a *Q8KAct, acc, accm *[8]float32) {
	for b := range a.D {
		blk := (*[84]byte)(w[b*84:])
		sc, qs := blk[0:16], blk[16:80]
		aq := (*[QK_K]int8)(a.Q[b*QK_K:])
		var s, m [8]int32
		for n := range 2 {
			for g := range 4 {
				for l := range 32 {
					c := qs[32*n+l] >> (2 * g) & 3
					j := 8*n + 2*g + l/16
					s[l>>2] += int32(sc[j]&15) * int32(c) * int32(aq[128*n+32*g+l])
				}
			}
		}
		for k := range 8 {
			bs := a.BSums[b*16+2*k:]
			m[k] = int32(sc[2*k]>>4)*int32(bs[0]) + int32(sc[2*k+1]>>4)*int32(bs[1])
		}
		da := a.D[b]
		dd, dm := float32(getF16(blk[80:])*da), float32(getF16(blk[82:])*da)
		for k := range 8 {
			acc[k] += float32(float32(s[k]) * dd)
			accm[k] += float32(float32(m[k]) * dm)
		}
	}
}

// DotQ3_K returns the dot product of a Q3_K row w with the activation a,
// in the lane order of DotQ6_K. Codes are stored as c = q + 4 (0 … 7: two
// bits in qs, the third the hmask bit): per block the exact integer sums
// sc_j·Σ c·a land in eight lanes (lane k holds the codes 4k … 4k+3 of every
// 32-value chunk), lane k less 4·(sc_2k·bsum_2k + sc_2k+1·bsum_2k+1); each
// lane adds float32(float32(sum)·float32(d·da)) to its accumulator, and
// the result is reduce8.
func DotQ3_K(w []byte, a *Q8KAct) float32 {
	var acc [8]float32
	if !dotQ3KFast(w, a, &acc) {
		dotQ3KGo(w, a, &acc)
	}
	return reduce8(&acc)
}

// dotQ3KGo is DotQ3_K's Go twin.
func dotQ3KGo(w []byte, a *Q8KAct, acc *[8]float32) {
	for b := range a.D {
		blk := (*[110]byte)(w[b*110:])
		hm, qs, scb := blk[0:32], blk[32:96], blk[96:108]
		aq := (*[QK_K]int8)(a.Q[b*QK_K:])
		var sc [16]int32
		for j := range sc {
			sc[j] = int32(q3Scale(scb, j))
		}
		var s [8]int32
		for n := range 2 {
			for g := range 4 {
				for l := range 32 {
					c := qs[32*n+l]>>(2*g)&3 | (hm[l]>>(4*n+g)&1)<<2
					j := 8*n + 2*g + l/16
					s[l>>2] += sc[j] * int32(c) * int32(aq[128*n+32*g+l])
				}
			}
		}
		for k := range 8 {
			bs := a.BSums[b*16+2*k:]
			s[k] -= 4 * (sc[2*k]*int32(bs[0]) + sc[2*k+1]*int32(bs[1]))
		}
		dd := float32(getF16(blk[108:]) * a.D[b])
		for k := range 8 {
			acc[k] += float32(float32(s[k]) * dd)
		}
	}
}
