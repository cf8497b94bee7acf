//go:build !amd64 || noasm

package quant

func (q *qkx2Lanes) passes(n, nmax, nstep int, useMad bool) { q.passesGo(n, nmax, nstep, useMad) }

func (q *q3Lanes) search(nmax int) { q.searchGo(nmax) }

func (q *qxLanes) search(nmax int) { q.searchGo(nmax) }

func q3Codes(xb []float32, dq *[QK_K / 16]float32, L *[QK_K]int8, out *[96]byte) {
	q3CodesGo(xb, dq, L, out)
}
