package kernel

// The prefill product Y = X·Wᵀ for many rows of X (a prompt) as a blocked
// GEMM: rows of W are widened to float32 once, into panels of gemmNR rows,
// and a micro-kernel takes the dot products of gemmMR rows
// of X with the panel's rows at once, each in the 32 lanes of dotGo, so the
// result equals MatMulRef bit for bit (see docs/REFERENCE.md, Matrix
// products). Twelve outputs per call share each load: 14 vector loads per
// 24 multiplies and 24 adds, where one dot product loads 2 per 1 and 1.

const (
	gemmMR = 3 // rows of X per micro-kernel call
	gemmNR = 4 // rows of W per panel
	// gemmWBytes is the size of a group of widened panels (kept in L2).
	gemmWBytes = 384 << 10
)

// gemm3x4Go is the plain twin of the micro-kernel: acc[4r+c] gets the 32
// lanes of dotGo for x_r · w[c·wstride:], over the first n elements.
func gemm3x4Go(x0, x1, x2, w []float32, wstride, n int, acc *[12][32]float32) {
	xs := [3][]float32{x0[:n], x1[:n], x2[:n]}
	*acc = [12][32]float32{}
	for r, x := range xs {
		for c := range 4 {
			wr := w[c*wstride : c*wstride+n]
			a := &acc[4*r+c]
			for i, v := range x {
				a[i&31] += float32(v * wr[i])
			}
		}
	}
}

// gemmRows computes Y[t, o] for every t < T and lo ≤ o < hi (see MatMul)
// with the micro-kernel kern. Rows of W are widened once, a group of
// panels at a time (about gemmWBytes, kept in L2); each three rows of X
// are then taken against every panel of the group while they sit in L1,
// and the bf16 bytes of the next group are prefetched along the way.
func gemmRows(Y, X []float32, T int, W *Mat, lo, hi int, kern func(x0, x1, x2, w []float32, wstride, n int, acc *[12][32]float32)) {
	in, out := W.Cols, W.Rows
	n32 := in &^ 31
	group := max(1, gemmWBytes/(4*gemmNR*in)) * gemmNR // rows of W per group
	panels := make([]float32, group*in)
	var acc [12][32]float32
	var sums [12]float32
	steps := (T + gemmMR - 1) / gemmMR
	for o0 := lo; o0 < hi; o0 += group {
		o1 := min(hi, o0+group)
		for o := o0; o < (o1+gemmNR-1)/gemmNR*gemmNR; o++ {
			row := panels[(o-o0)*in : (o-o0+1)*in]
			if o < o1 {
				widenRow(W, o, row)
			} else {
				clear(row) // past the last row: computed, never stored
			}
		}
		next, nextHi := o1, min(hi, o1+group) // prefetched a slice per step
		per := (nextHi - next + steps - 1) / steps
		for t := 0; t < T; t += gemmMR {
			prefetchRows(W, next, min(nextHi, next+per))
			next += per
			nx := min(gemmMR, T-t)
			x0 := X[t*in : (t+1)*in]
			x1, x2 := x0, x0 // past the last row: computed, never stored
			if nx > 1 {
				x1 = X[(t+1)*in : (t+2)*in]
			}
			if nx > 2 {
				x2 = X[(t+2)*in : (t+3)*in]
			}
			for o := o0; o < o1; o += gemmNR {
				nw := min(gemmNR, o1-o)
				panel := panels[(o-o0)*in:]
				kern(x0, x1, x2, panel, in, n32, &acc)
				if n32 < in {
					for r := range nx {
						xr := X[(t+r)*in : (t+r+1)*in]
						for c := range nw {
							a := &acc[4*r+c]
							wr := panel[c*in : (c+1)*in]
							for i := n32; i < in; i++ {
								a[i&31] += float32(xr[i] * wr[i])
							}
						}
					}
				}
				reduceAll(&acc, &sums)
				for r := range nx {
					copy(Y[(t+r)*out+o:(t+r)*out+o+nw], sums[4*r:4*r+nw])
				}
			}
		}
	}
}

// reduceAllGo is the plain twin of reduce12: out[j] = reduce32(&acc[j]).
func reduceAllGo(acc *[12][32]float32, out *[12]float32) {
	for j := range acc {
		a := acc[j]
		out[j] = reduce32(&a)
	}
}
