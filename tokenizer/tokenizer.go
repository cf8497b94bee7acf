// Package tokenizer implements the byte-level BPE tokenizers of GPT-2 and
// tiktoken (o200k_base, which Phi-4-mini-flash's 200,064-id vocabulary is
// built on): pre-tokenization by the known split patterns (implemented by
// hand: they need a lookahead Go's regexp does not have), byte-pair merges
// by rank, special tokens, and decoding. docs/TOKENIZER.md describes the
// algorithm and the files.
package tokenizer

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ErrUnknownPattern reports a pre-tokenizer pattern this package does not
// implement.
var ErrUnknownPattern = errors.New("unknown pre-tokenizer pattern")

// A Tokenizer turns text into token ids and back. It is safe for
// concurrent use.
type Tokenizer struct {
	encoder map[string]int    // token bytes → id
	decoder [][]byte          // id → token bytes (nil where no token)
	merges  map[[2]string]int // Hugging Face merge ranks (nil: tiktoken ranks)
	// ignoreMerges: a piece that is a whole token is that token (always so
	// for tiktoken; a Hugging Face BPE option).
	ignoreMerges bool
	split        splitter

	special map[string]int // special token text → id
	byLen   []string       // special tokens, longest first

	mu    sync.Mutex
	cache map[string][]int
}

const maxCache = 1 << 16

// newTokenizer checks the pattern and indexes the vocabulary.
func newTokenizer(encoder map[string]int, pattern string, special map[string]int) (*Tokenizer, error) {
	sp, ok := splitters[pattern]
	if !ok {
		return nil, fmt.Errorf("%w %q: known are GPT-2's and tiktoken o200k_base's", ErrUnknownPattern, pattern)
	}
	t := &Tokenizer{encoder: encoder, split: sp, special: special, cache: map[string][]int{}, ignoreMerges: true}
	n := 0
	for _, id := range encoder {
		n = max(n, id+1)
	}
	for _, id := range special {
		n = max(n, id+1)
	}
	t.decoder = make([][]byte, n)
	for tok, id := range encoder {
		if id < 0 {
			return nil, fmt.Errorf("token %q has id %d", tok, id)
		}
		t.decoder[id] = []byte(tok)
	}
	for tok, id := range special {
		if id < 0 {
			return nil, fmt.Errorf("special token %q has id %d", tok, id)
		}
		t.decoder[id] = []byte(tok)
		t.byLen = append(t.byLen, tok)
	}
	sort.Slice(t.byLen, func(i, j int) bool {
		if len(t.byLen[i]) != len(t.byLen[j]) {
			return len(t.byLen[i]) > len(t.byLen[j])
		}
		return t.byLen[i] < t.byLen[j]
	})
	for b := 0; b < 256; b++ {
		if _, ok := encoder[string([]byte{byte(b)})]; !ok {
			return nil, fmt.Errorf("the vocabulary has no token for byte 0x%02x (a byte-level BPE needs all 256)", b)
		}
	}
	return t, nil
}

// NewTiktoken returns the tokenizer of a tiktoken encoding: its ranks
// (token bytes → rank, which is the id), split pattern and special tokens.
func NewTiktoken(ranks map[string]int, pattern string, special map[string]int) (*Tokenizer, error) {
	return newTokenizer(ranks, pattern, special)
}

// ReadTiktoken reads a tiktoken rank file: one "BASE64 RANK" line per token.
func ReadTiktoken(r io.Reader) (map[string]int, error) {
	ranks := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"BASE64 RANK\"", line)
		}
		tok, err := base64.StdEncoding.DecodeString(f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		rank, err := strconv.Atoi(f[1])
		if err != nil || rank < 0 || rank > 1<<24 {
			return nil, fmt.Errorf("line %d: rank %q", line, f[1])
		}
		if _, dup := ranks[string(tok)]; dup {
			return nil, fmt.Errorf("line %d: token %q listed twice", line, tok)
		}
		ranks[string(tok)] = rank
	}
	return ranks, sc.Err()
}

// rank is the rank of merging a and b: the merge's index in a merges list,
// or for tiktoken vocabularies the rank of the merged token.
func (t *Tokenizer) rank(a, b []byte) (int, bool) {
	if t.merges != nil {
		r, ok := t.merges[[2]string{string(a), string(b)}]
		return r, ok
	}
	r, ok := t.encoder[string(a)+string(b)]
	return r, ok
}

// Encode returns the ids of text, special tokens in it included.
func (t *Tokenizer) Encode(text string) []int {
	var ids []int
	// next[i] is where special token byLen[i] next occurs at or after pos
	// (−1: nowhere); each is searched for again only once pos passes it, so
	// the text is scanned once per special token, whatever their number.
	next := make([]int, len(t.byLen))
	for i, s := range t.byLen {
		next[i] = strings.Index(text, s)
	}
	pos := 0
	for {
		at, which := -1, -1
		for i, s := range t.byLen {
			if next[i] >= 0 && next[i] < pos {
				if j := strings.Index(text[pos:], s); j >= 0 {
					next[i] = pos + j
				} else {
					next[i] = -1
				}
			}
			// Leftmost; at the same place the longest (byLen is longest first).
			if next[i] >= 0 && (at < 0 || next[i] < at) {
				at, which = next[i], i
			}
		}
		if at < 0 {
			break
		}
		ids = t.appendOrdinary(ids, text[pos:at])
		tok := t.byLen[which]
		ids = append(ids, t.special[tok])
		pos = at + len(tok)
	}
	return t.appendOrdinary(ids, text[pos:])
}

// EncodeOrdinary returns the ids of text, special tokens treated as text.
func (t *Tokenizer) EncodeOrdinary(text string) []int { return t.appendOrdinary(nil, text) }

func (t *Tokenizer) appendOrdinary(ids []int, text string) []int {
	var bounds []int
	split(t.split, []byte(text), func(piece []byte) {
		if id, ok := t.encoder[string(piece)]; ok && t.ignoreMerges {
			ids = append(ids, id)
			return
		}
		t.mu.Lock()
		cached, ok := t.cache[string(piece)]
		t.mu.Unlock()
		if ok {
			ids = append(ids, cached...)
			return
		}
		bounds = bpe(piece, t.rank, bounds[:0])
		start := len(ids)
		prev := 0
		for _, b := range bounds {
			ids = append(ids, t.encoder[string(piece[prev:b])])
			prev = b
		}
		t.mu.Lock()
		if len(t.cache) >= maxCache {
			clear(t.cache)
		}
		t.cache[string(piece)] = append([]int(nil), ids[start:]...)
		t.mu.Unlock()
	})
	return ids
}

// Decode returns the bytes of ids (which need not be valid UTF-8: a token
// may hold part of a character).
func (t *Tokenizer) Decode(ids []int) ([]byte, error) {
	var out []byte
	for _, id := range ids {
		if !t.Has(id) {
			return nil, fmt.Errorf("token id %d is not in the vocabulary (%d ids)", id, len(t.decoder))
		}
		out = append(out, t.decoder[id]...)
	}
	return out, nil
}

// SpecialID returns the id of a special (added) token.
func (t *Tokenizer) SpecialID(s string) (int, bool) {
	id, ok := t.special[s]
	return id, ok
}

// Has reports whether id has a token.
func (t *Tokenizer) Has(id int) bool { return id >= 0 && id < len(t.decoder) && t.decoder[id] != nil }

// VocabSize is the number of ids (one more than the largest).
func (t *Tokenizer) VocabSize() int { return len(t.decoder) }
