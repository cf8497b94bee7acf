//go:build amd64 && !noasm

package quant

import "golang.org/x/sys/cpu"

var useF16C = cpu.X86.HasF16C

//go:noescape
func dotQ8x8(w *byte, q *int8, d *float32, groups int, acc *[8]float32)

// dotQ8Fast accumulates whole groups of eight blocks with AVX2 and returns
// the first block it left for dotQ8Go.
func dotQ8Fast(w []byte, a *Q8Act, acc *[8]float32) int {
	g := len(a.D) / 8
	if !useAVX2 || !useF16C || g == 0 {
		return 0
	}
	_ = w[g*8*34-1]
	dotQ8x8(&w[0], &a.Q[0], &a.D[0], g, acc)
	return g * 8
}

//go:noescape
func dotQ4K(w, sm *byte, q *int8, asum *int32, d *float32, nb int) float32

// dotQ4KFast is Q4KRows.Dot with AVX2 (false where the machine lacks it).
func dotQ4KFast(w, sm []byte, a *Q8KAct, nb int) (float32, bool) {
	if !useAVX2 || !useF16C || nb == 0 {
		return 0, false
	}
	_, _ = w[nb*144-1], sm[nb*16-1]
	_, _, _ = a.Q[nb*QK_K-1], a.ASum[nb*8-1], a.D[nb-1]
	return dotQ4K(&w[0], &sm[0], &a.Q[0], &a.ASum[0], &a.D[0], nb), true
}

//go:noescape
func dotQ6K(w *byte, q *int8, asum16 *int32, d *float32, nb int) float32

// dotQ6KFast is DotQ6_K with AVX2 (false where the machine lacks it).
func dotQ6KFast(w []byte, a *Q8KAct, nb int) (float32, bool) {
	if !useAVX2 || !useF16C || nb == 0 {
		return 0, false
	}
	_ = w[nb*210-1]
	_, _, _ = a.Q[nb*QK_K-1], a.ASum16[nb*16-1], a.D[nb-1]
	return dotQ6K(&w[0], &a.Q[0], &a.ASum16[0], &a.D[0], nb), true
}
