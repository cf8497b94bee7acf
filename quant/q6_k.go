package quant

// Q6_K: ql[128] · qh[64] · scales[16] int8 · d f16 (ggml-quants.c 1869–1968).

func quantizeQ6_K(dst []byte, x []float32) {
	var L [QK_K]int8
	var scales [QK_K / 16]float32
	for b := 0; b < len(x)/QK_K; b++ {
		xb, out := x[b*QK_K:(b+1)*QK_K], dst[b*210:(b+1)*210]
		var maxScale, maxAbs float32
		// Sixteen sub-block searches, eight side by side (makeQxQuants on each).
		for h := 0; h < QK_K/16; h += 8 {
			var xs [8]*[16]float32
			var ls [8]*[16]int8
			for k := range 8 {
				xs[k], ls[k] = (*[16]float32)(xb[16*(h+k):]), (*[16]int8)(L[16*(h+k):])
			}
			s := makeQxQuants8(32, &xs, &ls)
			copy(scales[h:h+8], s[:])
		}
		for ib := 0; ib < QK_K/16; ib++ {
			if a := abs32(scales[ib]); a > maxAbs {
				maxAbs, maxScale = a, scales[ib]
			}
		}
		if maxAbs < groupMaxEps {
			clear(out)
			continue
		}
		iscale := -128 / maxScale
		putF16(out[208:], 1/iscale)
		sc := out[192:208]
		for ib := 0; ib < QK_K/16; ib++ {
			sc[ib] = byte(int8(min(127, nearestInt(float32(iscale*scales[ib])))))
		}
		d := getF16(out[208:])
		for j := 0; j < QK_K/16; j++ {
			dq := d * float32(int8(sc[j]))
			if dq == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := nearestInt(xb[16*j+ii] / dq)
				L[16*j+ii] = int8(max(-32, min(31, l)) + 32)
			}
		}
		ql, qh := out[0:128], out[128:192]
		for j := 0; j < QK_K; j += 128 {
			for l := 0; l < 32; l++ {
				q1, q2 := uint8(L[j+l])&15, uint8(L[j+l+32])&15
				q3, q4 := uint8(L[j+l+64])&15, uint8(L[j+l+96])&15
				ql[j/2+l] = q1 | q3<<4
				ql[j/2+l+32] = q2 | q4<<4
				qh[j/4+l] = uint8(L[j+l])>>4 | (uint8(L[j+l+32])>>4)<<2 | (uint8(L[j+l+64])>>4)<<4 | (uint8(L[j+l+96])>>4)<<6
			}
		}
	}
}

func dequantizeQ6_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		in, y := src[b*210:], dst[b*QK_K:]
		ql, qh, sc := in[0:128], in[128:192], in[192:208]
		d := getF16(in[208:])
		for h := 0; h < 2; h++ {
			for l := 0; l < 32; l++ {
				qhv := qh[32*h+l]
				q := [4]int{
					int(ql[64*h+l]&15|(qhv&3)<<4) - 32,
					int(ql[64*h+l+32]&15|(qhv>>2&3)<<4) - 32,
					int(ql[64*h+l]>>4|(qhv>>4&3)<<4) - 32,
					int(ql[64*h+l+32]>>4|(qhv>>6&3)<<4) - 32,
				}
				for k := 0; k < 4; k++ {
					e := 128*h + l + 32*k
					y[e] = float32(d*float32(int8(sc[e/16]))) * float32(q[k])
				}
			}
		}
	}
}
