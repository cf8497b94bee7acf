package tokenizer

import "math"

// bpe merges the bytes of one piece into tokens: repeatedly the adjacent
// pair of lowest rank is merged, the leftmost on ties, until no pair has a
// rank (tiktoken's byte_pair_merge; with merge ranks it is the Hugging Face
// BPE model's loop). rank(a, b) is the rank of merging token bytes a and b,
// or ok false. The tokens' byte boundaries are appended to bounds (without
// the leading 0) and returned.
func bpe(piece []byte, rank func(a, b []byte) (int, bool), bounds []int) []int {
	if len(piece) > longPiece {
		return bpeHeap(piece, rank, bounds)
	}
	return bpeScan(piece, rank, bounds)
}

// bpeScan is bpe by scanning for the lowest rank: quadratic, fast on the
// short pieces text is mostly made of.
func bpeScan(piece []byte, rank func(a, b []byte) (int, bool), bounds []int) []int {
	// parts[i] is the start of the i-th token; parts[len-1] == len(piece).
	var stack [64]int
	parts := stack[:0]
	for i := 0; i <= len(piece); i++ {
		parts = append(parts, i)
	}
	ranks := make([]int, len(parts)) // ranks[i]: merging tokens i and i+1
	pairRank := func(i int) int {
		if i+2 >= len(parts) {
			return math.MaxInt
		}
		if r, ok := rank(piece[parts[i]:parts[i+1]], piece[parts[i+1]:parts[i+2]]); ok {
			return r
		}
		return math.MaxInt
	}
	for i := range ranks {
		ranks[i] = pairRank(i)
	}
	for len(parts) > 2 {
		best, at := math.MaxInt, -1
		for i := 0; i+2 < len(parts); i++ {
			if ranks[i] < best {
				best, at = ranks[i], i
			}
		}
		if at < 0 {
			break
		}
		// Merge tokens at and at+1: drop boundary at+1.
		parts = append(parts[:at+1], parts[at+2:]...)
		ranks = append(ranks[:at+1], ranks[at+2:]...)
		ranks[at] = pairRank(at)
		if at > 0 {
			ranks[at-1] = pairRank(at - 1)
		}
	}
	return append(bounds, parts[1:]...)
}

// longPiece is where bpe switches to bpeHeap: the scan for the lowest
// rank makes bpe quadratic in the piece's length (a megabyte of one letter,
// or of spaces, is one piece).
const longPiece = 256

// bpeHeap is bpe for long pieces, in O(n log n): the candidate pairs sit in
// a heap ordered by rank, then position (so the same pair is merged first
// as in bpe's scan: lowest rank, leftmost), entries made stale by a merge
// are skipped when popped, and the tokens form a linked list.
func bpeHeap(piece []byte, rank func(a, b []byte) (int, bool), bounds []int) []int {
	n := len(piece)
	// Token i spans [start[i], start[next[i]]); start[n] = n ends the list.
	start := make([]int, n+1)
	next := make([]int, n+1)
	prev := make([]int, n+1)
	alive := make([]bool, n+1)
	for i := 0; i <= n; i++ {
		start[i], next[i], prev[i], alive[i] = i, i+1, i-1, true
	}
	h := &pairHeap{}
	push := func(i int) {
		if i < 0 || i >= n || next[i] >= n {
			return
		}
		j := next[i]
		if r, ok := rank(piece[start[i]:start[j]], piece[start[j]:start[next[j]]]); ok {
			h.push(pairEntry{rank: r, pos: start[i], left: i, right: j, rightEnd: start[next[j]]})
		}
	}
	for i := 0; i < n; i++ {
		push(i)
	}
	for h.len() > 0 {
		e := h.pop()
		i, j := e.left, e.right
		// Stale: a token of the pair was merged away or grew since.
		if !alive[i] || !alive[j] || next[i] != j || start[next[j]] != e.rightEnd {
			continue
		}
		// Merge j into i.
		alive[j] = false
		next[i] = next[j]
		prev[next[j]] = i
		push(prev[i])
		push(i)
	}
	for i := 0; i < n; i = next[i] {
		bounds = append(bounds, start[next[i]])
	}
	return bounds
}

type pairEntry struct {
	rank, pos, left, right, rightEnd int
}

// pairHeap is a binary min-heap of pairEntry by (rank, pos).
type pairHeap struct{ e []pairEntry }

func (h *pairHeap) len() int { return len(h.e) }

func (h *pairHeap) less(a, b int) bool {
	x, y := h.e[a], h.e[b]
	return x.rank < y.rank || x.rank == y.rank && x.pos < y.pos
}

func (h *pairHeap) push(x pairEntry) {
	h.e = append(h.e, x)
	for i := len(h.e) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.e[i], h.e[p] = h.e[p], h.e[i]
		i = p
	}
}

func (h *pairHeap) pop() pairEntry {
	top := h.e[0]
	last := len(h.e) - 1
	h.e[0] = h.e[last]
	h.e = h.e[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.e) && h.less(l, m) {
			m = l
		}
		if r < len(h.e) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.e[i], h.e[m] = h.e[m], h.e[i]
		i = m
	}
	return top
}
