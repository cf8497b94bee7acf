//go:build amd64 && !noasm

package quant

//go:noescape
func qkx2Passes(q *qkx2Lanes, n, nmax, nstep int, mad bool)

// passes is passesGo, the eight lanes in AVX2 registers where available.
func (q *qkx2Lanes) passes(n, nmax, nstep int, useMad bool) {
	if useAVX2 && n > 0 {
		qkx2Passes(q, n, nmax, nstep, useMad)
		return
	}
	q.passesGo(n, nmax, nstep, useMad)
}

//go:noescape
func q3Search(q *q3Lanes, nmax int)

// search is searchGo, the eight lanes in AVX2 registers where available.
func (q *q3Lanes) search(nmax int) {
	if useAVX2 {
		q3Search(q, nmax)
		return
	}
	q.searchGo(nmax)
}

//go:noescape
func qxSearch(q *qxLanes, nmax int)

// search is searchGo, the eight lanes in AVX2 registers where available.
func (q *qxLanes) search(nmax int) {
	if useAVX2 {
		qxSearch(q, nmax)
		return
	}
	q.searchGo(nmax)
}

//go:noescape
func q3Finish(x *float32, dq *float32, l *int8, out *byte)

// q3Codes is q3CodesGo, in AVX2 where available.
func q3Codes(xb []float32, dq *[QK_K / 16]float32, L *[QK_K]int8, out *[96]byte) {
	if useAVX2 {
		_ = xb[QK_K-1]
		q3Finish(&xb[0], &dq[0], &L[0], &out[0])
		return
	}
	q3CodesGo(xb, dq, L, out)
}
