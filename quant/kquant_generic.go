//go:build !amd64 || noasm

package quant

func (q *qkx2Lanes) passes(n, nmax, nstep int, useMad bool) { q.passesGo(n, nmax, nstep, useMad) }

func (q *q3Lanes) search(nmax int) { q.searchGo(nmax) }

func (q *qxLanes) search(nmax int) { q.searchGo(nmax) }
