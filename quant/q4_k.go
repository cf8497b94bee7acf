package quant

import "math"

// Q4_K and Q5_K share the 8 × 32 sub-block scale search and the 12-byte
// 6-bit scale/min packing (ggml-quants.c 880–887, 1457–1551, 1644–1756).
// Q4_K: d · dmin · scales[12] · qs[128]. Q5_K: d · dmin · scales[12] ·
// qh[32] · qs[128].

// getScaleMinK4 is get_scale_min_k4.
func getScaleMinK4(j int, q []byte) (uint8, uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&15 | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// kScales runs the sub-block search and packs scales for Q4_K (nmax 15) or
// Q5_K (nmax 31), writing d, dmin and scales into out, and the final codes into L.
func kScales(xb []float32, out []byte, L *[QK_K]uint8, nmax int, rmin float32, nstep int) {
	var weights [QK_K / 32][32]float32
	var xs, ws [8][]float32
	var ls [8][]uint8
	var maxScale, maxMin float32
	for j := 0; j < QK_K/32; j++ {
		var sumX2 float32
		for l := 0; l < 32; l++ {
			sumX2 += float32(xb[32*j+l] * xb[32*j+l])
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l := 0; l < 32; l++ {
			weights[j][l] = avX + abs32(xb[32*j+l])
		}
		xs[j], ws[j], ls[j] = xb[32*j:32*j+32], weights[j][:], L[32*j:32*j+32]
	}
	// The eight sub-block searches side by side (makeQkx2Quants on each).
	scales, mins := makeQkx2Quants8(32, nmax, &xs, &ws, &ls, rmin, 0.1, nstep, false)
	for j := 0; j < QK_K/32; j++ {
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	sc := out[4:16]
	clear(sc)
	for j := 0; j < QK_K/32; j++ {
		ls := min(63, uint8(nearestInt(float32(invScale*scales[j])))) // uint8 wrap first, as C
		lm := min(63, uint8(nearestInt(float32(invMin*mins[j]))))
		if j < 4 {
			sc[j] = ls
			sc[j+4] = lm
		} else {
			sc[j+4] = ls&15 | (lm&15)<<4
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	putF16(out[0:], maxScale/63)
	putF16(out[2:], maxMin/63)
	d, dmin := getF16(out[0:]), getF16(out[2:])
	for j := 0; j < QK_K/32; j++ {
		s, m := getScaleMinK4(j, sc)
		dq := d * float32(s)
		if dq == 0 {
			continue
		}
		dm := dmin * float32(m)
		for ii := 0; ii < 32; ii++ {
			l := nearestInt((xb[32*j+ii] + dm) / dq)
			L[32*j+ii] = uint8(max(0, min(nmax, l)))
		}
	}
}

func quantizeQ4_K(dst []byte, x []float32) {
	var L [QK_K]uint8
	for b := 0; b < len(x)/QK_K; b++ {
		xb, out := x[b*QK_K:(b+1)*QK_K], dst[b*144:(b+1)*144]
		kScales(xb, out, &L, 15, -1, 20)
		q := out[16:144]
		for j := 0; j < QK_K; j += 64 {
			for l := 0; l < 32; l++ {
				q[j/2+l] = L[j+l] | L[j+l+32]<<4
			}
		}
	}
}

func dequantizeQ4_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		in, y := src[b*144:], dst[b*QK_K:]
		d, dmin := getF16(in[0:]), getF16(in[2:])
		sc, q := in[4:16], in[16:144]
		for r := 0; r < 4; r++ {
			s1, m1 := getScaleMinK4(2*r, sc)
			s2, m2 := getScaleMinK4(2*r+1, sc)
			d1, mm1 := d*float32(s1), dmin*float32(m1)
			d2, mm2 := d*float32(s2), dmin*float32(m2)
			for l := 0; l < 32; l++ {
				y[64*r+l] = float32(d1*float32(q[32*r+l]&15)) - mm1
				y[64*r+32+l] = float32(d2*float32(q[32*r+l]>>4)) - mm2
			}
		}
	}
}

func quantizeQ5_K(dst []byte, x []float32) {
	var L [QK_K]uint8
	for b := 0; b < len(x)/QK_K; b++ {
		xb, out := x[b*QK_K:(b+1)*QK_K], dst[b*176:(b+1)*176]
		kScales(xb, out, &L, 31, -0.5, 15)
		qh, ql := out[16:48], out[48:176]
		clear(qh)
		m1, m2 := uint8(1), uint8(2)
		for n := 0; n < QK_K; n += 64 {
			for j := 0; j < 32; j++ {
				l1, l2 := L[n+j], L[n+j+32] // in 0..31; bit 4 goes to qh, without a branch
				qh[j] |= l1>>4*m1 | l2>>4*m2
				ql[n/2+j] = l1&15 | (l2&15)<<4
			}
			m1 <<= 2
			m2 <<= 2
		}
	}
}

func dequantizeQ5_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		in, y := src[b*176:], dst[b*QK_K:]
		d, dmin := getF16(in[0:]), getF16(in[2:])
		sc, qh, ql := in[4:16], in[16:48], in[48:176]
		for r := 0; r < 4; r++ {
			s1, m1 := getScaleMinK4(2*r, sc)
			s2, m2 := getScaleMinK4(2*r+1, sc)
			d1, mm1 := d*float32(s1), dmin*float32(m1)
			d2, mm2 := d*float32(s2), dmin*float32(m2)
			for l := 0; l < 32; l++ {
				q1 := ql[32*r+l]&15 | (qh[l]>>(2*r)&1)<<4
				q2 := ql[32*r+l]>>4 | (qh[l]>>(2*r+1)&1)<<4
				y[64*r+l] = float32(d1*float32(q1)) - mm1
				y[64*r+32+l] = float32(d2*float32(q2)) - mm2
			}
		}
	}
}
