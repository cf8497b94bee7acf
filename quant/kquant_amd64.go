//go:build amd64 && !noasm

package quant

//go:noescape
func qxSums(x, w, wx *float32, iscale *float32, n int, nmax int32, out *float32)

// allSums is allSumsGo, with the products computed by AVX2 where available.
func (q *qxBlock) allSums(iscale *[qxPasses]float32, nmax int, out *[2 * qxPasses]float32) {
	if useAVX2 {
		qxSums(&q.x[0], &q.w[0], &q.wx[0], &iscale[0], qxPasses, int32(nmax), &out[0])
		return
	}
	q.allSumsGo(iscale, nmax, out)
}

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
