//go:build !amd64 || noasm

package quant

func (q *qxBlock) allSums(iscale *[qxPasses]float32, nmax int, out *[2 * qxPasses]float32) {
	q.allSumsGo(iscale, nmax, out)
}
