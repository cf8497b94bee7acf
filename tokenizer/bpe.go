package tokenizer

import "math"

// bpe merges the bytes of one piece into tokens: repeatedly the adjacent
// pair of lowest rank is merged, the leftmost on ties, until no pair has a
// rank (tiktoken's byte_pair_merge; with merge ranks it is the Hugging Face
// BPE model's loop). rank(a, b) is the rank of merging token bytes a and b,
// or ok false. The tokens' byte boundaries are appended to bounds (without
// the leading 0) and returned.
func bpe(piece []byte, rank func(a, b []byte) (int, bool), bounds []int) []int {
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
