package quant

// Q2_K: 256-element super-blocks of 16 sub-blocks; block bytes in order
// scales[16] · qs[64] · d f16 · dmin f16 (ggml-common.h; ggml-quants.c
// 891–991).

func quantizeQ2_K(dst []byte, x []float32) {
	var L [QK_K]uint8
	var weights [QK_K / 16][16]float32
	var mins, scales [QK_K / 16]float32
	const q4scale = 15
	for b := 0; b < len(x)/QK_K; b++ {
		xb, out := x[b*QK_K:(b+1)*QK_K], dst[b*84:(b+1)*84]
		sc, qs := out[0:16], out[16:80]
		var maxScale, maxMin float32
		for j := 0; j < QK_K/16; j++ {
			for l := 0; l < 16; l++ {
				weights[j][l] = abs32(xb[16*j+l])
			}
		}
		// Sixteen sub-block searches, eight side by side (makeQkx2Quants on each).
		for h := 0; h < QK_K/16; h += 8 {
			var xs, ws [8][]float32
			var ls [8][]uint8
			for k := range 8 {
				j := h + k
				xs[k], ws[k], ls[k] = xb[16*j:16*j+16], weights[j][:], L[16*j:16*j+16]
			}
			s, m := makeQkx2Quants8(16, 3, &xs, &ws, &ls, -0.5, 0.1, 15, true)
			copy(scales[h:h+8], s[:])
			copy(mins[h:h+8], m[:])
		}
		for j := 0; j < QK_K/16; j++ {
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		if maxScale > 0 {
			iscale := q4scale / maxScale
			for j := 0; j < QK_K/16; j++ {
				sc[j] = uint8(nearestInt(float32(iscale * scales[j])))
			}
			putF16(out[80:], maxScale/q4scale)
		} else {
			clear(sc)
			putF16(out[80:], 0)
		}
		if maxMin > 0 {
			iscale := q4scale / maxMin
			for j := 0; j < QK_K/16; j++ {
				sc[j] |= uint8(nearestInt(float32(iscale*mins[j])) << 4)
			}
			putF16(out[82:], maxMin/q4scale)
		} else {
			putF16(out[82:], 0)
		}
		d, dmin := getF16(out[80:]), getF16(out[82:])
		for j := 0; j < QK_K/16; j++ {
			dq := d * float32(sc[j]&15)
			if dq == 0 {
				continue
			}
			dm := dmin * float32(sc[j]>>4)
			for ii := 0; ii < 16; ii++ {
				l := nearestInt((xb[16*j+ii] + dm) / dq)
				L[16*j+ii] = uint8(max(0, min(3, l)))
			}
		}
		for j := 0; j < QK_K; j += 128 {
			for l := 0; l < 32; l++ {
				qs[j/4+l] = L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6
			}
		}
	}
}

func dequantizeQ2_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		in, y := src[b*84:], dst[b*QK_K:]
		d, dmin := getF16(in[80:]), getF16(in[82:])
		sc, qs := in[0:16], in[16:80]
		for h := 0; h < 2; h++ {
			for s := 0; s < 4; s++ { // bit pair s
				for half := 0; half < 2; half++ {
					j := h*8 + s*2 + half // sub-block of 16
					dl := d * float32(sc[j]&15)
					ml := dmin * float32(sc[j]>>4)
					for l := 0; l < 16; l++ {
						q := qs[32*h+16*half+l] >> (2 * s) & 3
						y[128*h+32*s+16*half+l] = float32(dl*float32(q)) - ml
					}
				}
			}
		}
	}
}
