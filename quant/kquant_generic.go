//go:build !amd64 || noasm

package quant

func (q *qxBlock) allSums(iscale *[qxPasses]float32, nmax int, out *[2 * qxPasses]float32) {
	q.allSumsGo(iscale, nmax, out)
}

func (q *qkx2Lanes) passes(n, nmax, nstep int, useMad bool) { q.passesGo(n, nmax, nstep, useMad) }

func (q *q3Lanes) search(nmax int) { q.searchGo(nmax) }
