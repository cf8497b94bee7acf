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
