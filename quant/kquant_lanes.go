package quant

import "math"

// Eight make_qkx2_quants searches side by side. The sub-blocks of a K-quant
// super-block are independent, so they run in the eight lanes of one AVX2
// register: every lane performs ggml's float32 operations in ggml's order
// on its own sub-block (each running sum stays a left-to-right chain), and
// where ggml branches a lane blends instead. The results are those of
// ggml's loops on each sub-block, bit for bit (makeQkx2Quants, makeQ3Quants
// and makeQxQuants in kquant_ref_test.go are those loops as ggml writes them).

// qkx2Lanes is the state of eight searches, each sub-block transposed into
// a lane (element i of lane k at [i][k]). The assembly kernel addresses the
// fields by offset (kquant_amd64.s); TestQkx2LanesLayout checks them.
type qkx2Lanes struct {
	x, w                               [32][8]float32
	mn, mx, sumW, sumX, scale, bestErr [8]float32
	num                                [32]float32 // per pass: (rmin + rdelta·is) + nmax
	laux, L                            [32][8]int32
}

// qkx2Start is the part of makeQkx2Quants before the passes: the range,
// the weighted sums, and the first quantization and its error. done
// reports a search that ends there (a constant sub-block, or no passes),
// with its result in scale and -mn.
func qkx2Start(n, nmax int, x, weights []float32, L []uint8, nstep int, useMad bool) (mn, mx, sumW, sumX, scale, bestErr float32, done bool) {
	mn, mx = x[0], x[0]
	sumW = weights[0]
	sumX = float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < mn {
			mn = x[i]
		}
		if x[i] > mx {
			mx = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		for i := 0; i < n; i++ {
			L[i] = 0
		}
		return mn, mx, sumW, sumX, 0, 0, true
	}
	fn := float32(nmax)
	iscale := fn / (mx - mn)
	scale = 1 / iscale
	for i := 0; i < n; i++ {
		l := nearestInt(float32(iscale * (x[i] - mn)))
		L[i] = uint8(max(0, min(nmax, l)))
		diff := float32(scale*float32(L[i])) + mn - x[i]
		if useMad {
			diff = abs32(diff)
		} else {
			diff = float32(diff * diff)
		}
		bestErr += float32(weights[i] * diff)
	}
	return mn, mx, sumW, sumX, scale, bestErr, nstep < 1
}

// makeQkx2Quants8 is makeQkx2Quants on eight sub-blocks of n ≤ 32
// elements (x[k], weights[k], codes into L[k]), with the same rmin,
// rdelta, nstep (at most 31) and useMad; it returns each one's scale and
// min.
func makeQkx2Quants8(n, nmax int, x, weights *[8][]float32, L *[8][]uint8, rmin, rdelta float32, nstep int, useMad bool) (scale, theMin [8]float32) {
	var q qkx2Lanes
	var done [8]bool
	for k := range 8 {
		mn, mx, sumW, sumX, sc, bestErr, end := qkx2Start(n, nmax, x[k], weights[k], L[k], nstep, useMad)
		scale[k], theMin[k], done[k] = sc, -mn, end
		if end {
			// A finished lane never improves: no error is below −Inf.
			q.bestErr[k], q.mx[k] = float32(math.Inf(-1)), 1
			continue
		}
		q.mn[k], q.mx[k], q.sumW[k], q.sumX[k], q.scale[k], q.bestErr[k] = mn, mx, sumW, sumX, sc, bestErr
		for i := 0; i < n; i++ {
			q.x[i][k], q.w[i][k], q.L[i][k] = x[k][i], weights[k][i], int32(L[k][i])
		}
	}
	if nstep < 1 {
		return scale, theMin // every lane ended in qkx2Start
	}
	fn := float32(nmax)
	for is := 0; is <= nstep; is++ {
		q.num[is] = rmin + float32(rdelta*float32(is)) + fn
	}
	q.passes(n, nmax, nstep, useMad)
	for k := range 8 {
		if done[k] {
			continue
		}
		for i := 0; i < n; i++ {
			L[k][i] = uint8(q.L[i][k])
		}
		scale[k], theMin[k] = q.scale[k], -q.mn[k]
	}
	return scale, theMin
}

// passesGo runs the passes of every lane as makeQkx2Quants's loop does
// (the Go twin of the assembly kernel).
func (q *qkx2Lanes) passesGo(n, nmax, nstep int, useMad bool) {
	for k := range 8 {
		mn, mx := q.mn[k], q.mx[k]
		for is := 0; is <= nstep; is++ {
			iscale := q.num[is] / (mx - mn)
			var sumL, sumL2, sumXL float32
			for i := 0; i < n; i++ {
				l := max(0, min(nmax, nearestInt(float32(iscale*(q.x[i][k]-mn)))))
				q.laux[i][k] = int32(l)
				w := q.w[i][k]
				fl := float32(l)
				sumL += float32(w * fl)
				sumL2 += float32(float32(w*fl) * fl)
				sumXL += float32(float32(w*fl) * q.x[i][k])
			}
			D := float32(q.sumW[k]*sumL2) - float32(sumL*sumL)
			if !(D > 0) { // ggml: if (D > 0) { … }, false for NaN too
				continue
			}
			thisScale := (float32(q.sumW[k]*sumXL) - float32(q.sumX[k]*sumL)) / D
			thisMin := (float32(sumL2*q.sumX[k]) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curErr float32
			for i := 0; i < n; i++ {
				diff := float32(thisScale*float32(q.laux[i][k])) + thisMin - q.x[i][k]
				if useMad {
					diff = abs32(diff)
				} else {
					diff = float32(diff * diff)
				}
				curErr += float32(q.w[i][k] * diff)
			}
			if curErr < q.bestErr[k] {
				for i := 0; i < n; i++ {
					q.L[i][k] = q.laux[i][k]
				}
				q.bestErr[k], q.scale[k], mn = curErr, thisScale, thisMin
			}
		}
		q.mn[k] = mn
	}
}

// q3Lanes is the state of eight make_q3_quants searches, each 16-element
// sub-block in a lane (element i of lane k at [i][k]): the values, their
// w = x² and wx = w·x (the float32 products ggml recomputes on every
// pass), the codes, the sums, and the largest magnitude. The assembly
// kernel addresses the fields by offset (kquant_amd64.s);
// TestQkx2LanesLayout checks them.
type q3Lanes struct {
	x, w, wx     [16][8]float32
	L            [16][8]int32
	sumlx, suml2 [8]float32
	amax         [8]float32
}

// makeQ3Quants8 is makeQ3Quants on eight sub-blocks, side by side. A lane
// whose refinement pass changes nothing would change nothing again, so
// running further passes for it, while other lanes still change, leaves
// it as ggml leaves it.
func makeQ3Quants8(nmax int, x *[8]*[16]float32, L *[8]*[16]int8) (scale [8]float32) {
	var q q3Lanes
	for k := range 8 {
		for i, v := range x[k] {
			q.x[i][k] = v
		}
	}
	q.search(nmax)
	for k := range 8 {
		if q.amax[k] < groupMaxEps {
			*L[k] = [16]int8{}
			continue
		}
		for i := 0; i < 16; i++ {
			L[k][i] = int8(q.L[i][k] + int32(nmax))
		}
		if q.suml2[k] > 0 {
			scale[k] = q.sumlx[k] / q.suml2[k]
		}
	}
	return scale
}

// searchGo is make_q3_quants on every lane up to the final codes: the
// value of largest magnitude, the first codes and sums, then refineGo (the
// Go twin of the assembly kernel). A lane of (near) zeros is left with
// zero sums, which the refinement never changes.
func (q *q3Lanes) searchGo(nmax int) {
	for k := range 8 {
		amax, vmax := laneMaxMagnitude(&q.x, k)
		q.amax[k] = amax
		if amax < groupMaxEps {
			continue
		}
		iscale := -float32(nmax) / vmax
		var sumlx, suml2 float32
		for i := 0; i < 16; i++ {
			xi := q.x[i][k]
			l := min(max(-nmax, nearestInt(float32(iscale*xi))), nmax-1)
			w := float32(xi * xi)
			wx := float32(w * xi)
			fl := float32(l)
			sumlx += float32(wx * fl)
			suml2 += float32(float32(w*fl) * fl)
			q.w[i][k], q.wx[i][k], q.L[i][k] = w, wx, int32(l)
		}
		q.sumlx[k], q.suml2[k] = sumlx, suml2
	}
	q.refineGo(nmax)
}

// refineGo is the do_rmse loop of make_q3_quants on every lane, at most 5
// passes, stopping when a pass changes no lane (the Go twin of the
// assembly kernel).
func (q *q3Lanes) refineGo(nmax int) {
	for itry := 0; itry < 5; itry++ {
		changed := false
		for k := range 8 {
			sumlx, suml2 := q.sumlx[k], q.suml2[k]
			for i := 0; i < 16; i++ {
				li := float32(q.L[i][k])
				slx := sumlx - float32(q.wx[i][k]*li)
				if !(slx > 0) {
					continue
				}
				w := q.w[i][k]
				sl2 := suml2 - float32(float32(w*li)*li)
				newL := min(max(-nmax, nearestInt(float32(q.x[i][k]*sl2)/slx)), nmax-1)
				if newL == int(q.L[i][k]) {
					continue
				}
				fl := float32(newL)
				slx += float32(q.wx[i][k] * fl)
				sl2 += float32(float32(w*fl) * fl)
				if sl2 > 0 && float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
					q.L[i][k] = int32(newL)
					sumlx, suml2 = slx, sl2
					changed = true
				}
			}
			q.sumlx[k], q.suml2[k] = sumlx, suml2
		}
		if !changed {
			return
		}
	}
}

// qxPasses is 1 + 18: make_qx_quants's first pass at −nmax/vmax and one
// per is = −9 … 9, is ≠ 0.
const qxPasses = 19

// qxLanes is the state of eight make_qx_quants searches (Q6_K's 16-element
// sub-blocks), each sub-block in a lane (element i of lane k at [i][k]),
// with w = x² and wx = w·x, the codes of the pass (laux) and of the best
// pass (L), each pass's iscale numerator, and per lane the scale and the
// largest magnitude. The assembly kernel addresses the fields by offset
// (kquant_amd64.s); TestQkx2LanesLayout checks them.
type qxLanes struct {
	x, w, wx [16][8]float32
	L, laux  [16][8]int32
	num      [32]float32 // nmax, then nmax + 0.1·is for is = −9 … 9, is ≠ 0
	scale    [8]float32
	amax     [8]float32
}

// makeQxQuants8 is makeQxQuants(16, nmax, …) on eight sub-blocks, side by
// side.
func makeQxQuants8(nmax int, x *[8]*[16]float32, L *[8]*[16]int8) (scale [8]float32) {
	var q qxLanes
	for k := range 8 {
		for i, v := range x[k] {
			w := float32(v * v)
			q.x[i][k], q.w[i][k], q.wx[i][k] = v, w, float32(w*v)
		}
	}
	fn := float32(nmax)
	q.num[0] = fn
	k := 1
	for is := -9; is <= 9; is++ {
		if is != 0 {
			q.num[k] = fn + float32(0.1*float32(is))
			k++
		}
	}
	q.search(nmax)
	for k := range 8 {
		if q.amax[k] < groupMaxEps {
			*L[k] = [16]int8{}
			continue
		}
		for i := 0; i < 16; i++ {
			L[k][i] = int8(q.L[i][k] + int32(nmax))
		}
		scale[k] = q.scale[k]
	}
	return scale
}

// searchGo is make_qx_quants's search on every lane (the Go twin of the
// assembly kernel); a lane of (near) zeros is left for the caller.
func (q *qxLanes) searchGo(nmax int) {
	for k := range 8 {
		amax, vmax := laneMaxMagnitude(&q.x, k)
		q.amax[k] = amax
		var best float32
		for p := 0; p < qxPasses; p++ {
			iscale := -q.num[p] / vmax
			var sumlx, suml2 float32
			for i := 0; i < 16; i++ {
				l := min(max(-nmax, nearestInt(float32(iscale*q.x[i][k]))), nmax-1)
				q.laux[i][k] = int32(l)
				fl := float32(l)
				sumlx += float32(q.wx[i][k] * fl)
				suml2 += float32(float32(q.w[i][k]*fl) * fl)
			}
			if p == 0 {
				var scale float32
				if suml2 != 0 {
					scale = sumlx / suml2
				}
				q.scale[k], best = scale, float32(scale*sumlx)
			} else if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
				q.scale[k] = sumlx / suml2
				best = float32(q.scale[k] * sumlx)
			} else {
				continue
			}
			for i := 0; i < 16; i++ {
				q.L[i][k] = q.laux[i][k]
			}
		}
	}
}

// laneMaxMagnitude is maxMagnitude on lane k of a transposed sub-block.
func laneMaxMagnitude(x *[16][8]float32, k int) (amax, vmax float32) {
	for i := range x {
		if a := abs32(x[i][k]); a > amax {
			amax, vmax = a, x[i][k]
		}
	}
	return amax, vmax
}
