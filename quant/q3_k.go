package quant

// Q3_K: hmask[32] · qs[64] · scales[12] · d f16 (ggml-quants.c 1229–1353).

func quantizeQ3_K(dst []byte, x []float32) {
	var L [QK_K]int8
	var scales [QK_K / 16]float32
	for b := 0; b < len(x)/QK_K; b++ {
		xb, out := x[b*QK_K:(b+1)*QK_K], dst[b*110:(b+1)*110]
		sc := out[96:108]
		var maxScale, amax float32
		// Sixteen sub-block searches, eight side by side (makeQ3Quants on each).
		for h := 0; h < QK_K/16; h += 8 {
			var xs [8]*[16]float32
			var ls [8]*[16]int8
			for k := range 8 {
				xs[k], ls[k] = (*[16]float32)(xb[16*(h+k):]), (*[16]int8)(L[16*(h+k):])
			}
			s := makeQ3Quants8(4, &xs, &ls)
			copy(scales[h:h+8], s[:])
		}
		for j := 0; j < QK_K/16; j++ {
			if s := abs32(scales[j]); s > amax {
				amax, maxScale = s, scales[j]
			}
		}
		clear(sc)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < QK_K/16; j++ {
				l := int8(nearestInt(float32(iscale * scales[j])))
				l = max(-32, min(31, l)) + 32
				if j < 8 {
					sc[j] = uint8(l & 15)
				} else {
					sc[j-8] |= uint8(l&15) << 4
				}
				l >>= 4
				sc[j%4+8] |= uint8(l) << (2 * (j / 4))
			}
			putF16(out[108:], 1/iscale)
		} else {
			putF16(out[108:], 0)
		}
		d := getF16(out[108:])
		var dq [QK_K / 16]float32
		for j := range dq {
			dq[j] = d * float32(q3Scale(sc, j))
		}
		q3Codes(xb, &dq, &L, (*[96]byte)(out))
	}
}

// q3CodesGo is ggml's second pass over a Q3_K block (ggml-quants.c
// 1300–1330): sub-block j's codes L = clamp(nearest_int(x/dq[j]), −4, 3) + 4
// where dq[j] (the f16 d times the 6-bit scale) is not zero, else the
// search's codes kept; then each code's bit 2 into hmask (out[0:32], bit
// j/32 of byte j%32) and its low two bits into qs (out[32:96]).
func q3CodesGo(xb []float32, dq *[QK_K / 16]float32, L *[QK_K]int8, out *[96]byte) {
	hmask, qs := out[0:32], out[32:96]
	for j, dqj := range dq {
		if dqj == 0 {
			continue
		}
		for ii := 0; ii < 16; ii++ {
			l := nearestInt(xb[16*j+ii] / dqj)
			L[16*j+ii] = int8(max(-4, min(3, l)) + 4)
		}
	}
	clear(hmask)
	for j := 0; j < QK_K; j++ {
		// L[j] is in 0..7: bit 2 is the high bit ggml moves to hmask
		// (if L > 3 { set; L −= 4 }), done without a data-dependent branch.
		hmask[j%32] |= (uint8(L[j]) >> 2 & 1) << (j / 32)
		L[j] &= 3
	}
	for j := 0; j < QK_K; j += 128 {
		for l := 0; l < 32; l++ {
			qs[j/4+l] = uint8(L[j+l]) | uint8(L[j+l+32])<<2 | uint8(L[j+l+64])<<4 | uint8(L[j+l+96])<<6
		}
	}
}

// q3Scale decodes the signed 6-bit scale of sub-block j.
func q3Scale(sc []byte, j int) int {
	var s int
	if j < 8 {
		s = int(sc[j] & 15)
	} else {
		s = int(sc[j-8] >> 4)
	}
	return (s | int(sc[8+j%4]>>(2*(j/4))&3)<<4) - 32
}

func dequantizeQ3_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		in, y := (*[110]byte)(src[b*110:]), (*[QK_K]float32)(dst[b*QK_K:])
		hmask, qs, sc := (*[32]byte)(in[0:32]), in[32:96], in[96:108]
		d := getF16(in[108:])
		var dl [16]float32
		for j := range dl {
			dl[j] = d * float32(q3Scale(sc, j))
		}
		// Element e = 128h + 32s + l: bits 2s of qs[32h+l], high bit
		// e/32 of hmask[l], scale e/16.
		for h := range 2 {
			for s := range 4 {
				e0 := 128*h + 32*s
				for l, c := range (*[32]byte)(qs[32*h:]) {
					q := int(c>>(2*s)&3) - 4
					if hmask[l]>>(e0/32)&1 != 0 {
						q += 4
					}
					y[e0+l] = dl[(e0+l)/16] * float32(q)
				}
			}
		}
	}
}
