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
