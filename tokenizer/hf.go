package tokenizer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Hugging Face tokenizer.json (tokenizers' serialization): the byte-level
// BPE subset GPT-2, Phi-4-mini-flash and other tiktoken-derived models use.

// byteToRune is GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for
// themselves, the others for U+0100 onwards, so that every token is a
// printable string.
// runeToByte inverts it: entry r is 1 + the byte r stands for, 0 for a
// rune that stands for none (every rune it maps to is below 512; arrays,
// not a map, so that the tables cost nothing at start).
var byteToRune, runeToByte = func() (m [256]rune, inv [512]int16) {
	n := 0
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
		inv[m[b]] = int16(b) + 1
	}
	return m, inv
}()

// toByteLevel spells bytes as GPT-2's byte-level string.
func toByteLevel(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(byteToRune[c])
	}
	return sb.String()
}

// fromByteLevel turns a byte-level string back into bytes.
func fromByteLevel(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0 || r >= rune(len(runeToByte)) || runeToByte[r] == 0 {
			return nil, fmt.Errorf("%q is not a byte-level token (character %U)", s, r)
		}
		out = append(out, byte(runeToByte[r]-1))
	}
	return out, nil
}

type hfAdded struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfPreTokenizer struct {
	Type           string           `json:"type"`
	Pretokenizers  []hfPreTokenizer `json:"pretokenizers,omitempty"`
	Pattern        *hfPattern       `json:"pattern,omitempty"`
	Behavior       string           `json:"behavior,omitempty"`
	Invert         *bool            `json:"invert,omitempty"`
	AddPrefixSpace *bool            `json:"add_prefix_space,omitempty"`
	TrimOffsets    *bool            `json:"trim_offsets,omitempty"`
	UseRegex       *bool            `json:"use_regex,omitempty"`
}

type hfPattern struct {
	Regex  string `json:"Regex,omitempty"`
	String string `json:"String,omitempty"`
}

type hfModel struct {
	Type         string          `json:"type"`
	Dropout      *float64        `json:"dropout"`
	UnkToken     *string         `json:"unk_token"`
	ByteFallback bool            `json:"byte_fallback"`
	IgnoreMerges bool            `json:"ignore_merges"`
	Vocab        map[string]int  `json:"vocab"`
	Merges       json.RawMessage `json:"merges"`
}

type hfFile struct {
	AddedTokens  []hfAdded       `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer *hfPreTokenizer `json:"pre_tokenizer"`
	Model        hfModel         `json:"model"`
}

// ParseHF reads a Hugging Face tokenizer.json of a byte-level BPE model.
// It refuses, naming the field, what this package does not implement:
// normalizers, an unknown split pattern, a prefix space, dropout, byte
// fallback.
func ParseHF(data []byte) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if f.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer.json: model.type %q: only BPE is supported", f.Model.Type)
	}
	if n := strings.TrimSpace(string(f.Normalizer)); n != "" && n != "null" {
		return nil, fmt.Errorf("tokenizer.json: a normalizer is not supported (%.60s)", n)
	}
	if f.Model.Dropout != nil && *f.Model.Dropout != 0 || f.Model.ByteFallback {
		return nil, fmt.Errorf("tokenizer.json: BPE dropout and byte fallback are not supported")
	}
	pattern, err := hfSplitPattern(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: pre_tokenizer: %w", err)
	}
	enc := make(map[string]int, len(f.Model.Vocab))
	for s, id := range f.Model.Vocab {
		b, err := fromByteLevel(s)
		if err != nil {
			return nil, fmt.Errorf("tokenizer.json: model.vocab: %w", err)
		}
		enc[string(b)] = id
	}
	pairs, err := parseMerges(f.Model.Merges)
	if err != nil {
		return nil, err
	}
	merges := make(map[[2]string]int, len(pairs))
	for i, p := range pairs {
		a, err1 := fromByteLevel(p[0])
		b, err2 := fromByteLevel(p[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("tokenizer.json: merge %d (%q %q) is not byte-level", i, p[0], p[1])
		}
		if _, ok := enc[string(a)+string(b)]; !ok {
			return nil, fmt.Errorf("tokenizer.json: merge %d (%q %q) makes a token not in the vocabulary", i, p[0], p[1])
		}
		k := [2]string{string(a), string(b)}
		if _, dup := merges[k]; !dup {
			merges[k] = i
		}
	}
	special := map[string]int{}
	for _, a := range f.AddedTokens {
		if a.Lstrip || a.Rstrip || a.SingleWord || a.Normalized && !a.Special {
			return nil, fmt.Errorf("tokenizer.json: added token %q: lstrip, rstrip, single_word and normalized are not supported", a.Content)
		}
		special[a.Content] = a.ID
		delete(enc, a.Content) // an added token is matched before pre-tokenization, never by merges
	}
	t, err := newTokenizer(enc, pattern, special)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t.merges, t.ignoreMerges = merges, f.Model.IgnoreMerges
	return t, nil
}

// hfSplitPattern returns the split pattern a pre_tokenizer declares: ByteLevel
// with use_regex (GPT-2's built-in pattern), or a Sequence of an isolating
// regex Split and a ByteLevel without one.
func hfSplitPattern(p *hfPreTokenizer) (string, error) {
	if p == nil {
		return "", fmt.Errorf("missing (a byte-level BPE needs one)")
	}
	byteLevel := func(p hfPreTokenizer, regex bool) error {
		if p.Type != "ByteLevel" {
			return fmt.Errorf("type %q, want ByteLevel", p.Type)
		}
		if p.AddPrefixSpace != nil && *p.AddPrefixSpace {
			return fmt.Errorf("ByteLevel add_prefix_space is not supported")
		}
		if (p.UseRegex == nil || *p.UseRegex) != regex {
			return fmt.Errorf("ByteLevel use_regex = %v is not supported here", !regex)
		}
		return nil
	}
	switch p.Type {
	case "ByteLevel":
		return PatternGPT2, byteLevel(*p, true)
	case "Sequence":
		if len(p.Pretokenizers) != 2 {
			return "", fmt.Errorf("a Sequence of %d pre-tokenizers: want Split then ByteLevel", len(p.Pretokenizers))
		}
		s := p.Pretokenizers[0]
		if s.Type != "Split" || s.Pattern == nil || s.Pattern.Regex == "" || s.Behavior != "Isolated" || s.Invert != nil && *s.Invert {
			return "", fmt.Errorf("want an isolating regex Split first, got %s %+v", s.Type, s.Pattern)
		}
		if _, ok := splitters[s.Pattern.Regex]; !ok {
			return "", fmt.Errorf("%w %q: known are GPT-2's and tiktoken o200k_base's", ErrUnknownPattern, s.Pattern.Regex)
		}
		return s.Pattern.Regex, byteLevel(p.Pretokenizers[1], false)
	}
	return "", fmt.Errorf("type %q is not supported", p.Type)
}

// parseMerges reads merges as ["a b", …] or [["a", "b"], …].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("tokenizer.json: merge %d %q: want two tokens", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("tokenizer.json: model.merges: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("tokenizer.json: merge %d has %d tokens, want 2", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

// TiktokenToHF returns the tokenizer.json of a tiktoken encoding with added
// (special) tokens, as transformers' TikTokenConverter builds it: the
// vocabulary in byte-level spelling, and for every token of two or more
// bytes each split into two ranked tokens, ordered by the token's rank
// (then the parts' ranks). With ignoreMerges a piece that is a whole token
// is that token, as in tiktoken (transformers sets it for tiktoken-derived
// models; GPT-2's own tokenizer.json does not). GPT-2's pattern becomes a
// ByteLevel pre-tokenizer with its built-in regex; another becomes a Split
// before a ByteLevel.
func TiktokenToHF(ranks map[string]int, pattern string, added map[string]int, ignoreMerges bool) ([]byte, error) {
	if _, ok := splitters[pattern]; !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownPattern, pattern)
	}
	type merge struct {
		l, r string
		rank int
	}
	vocab := make(map[string]int, len(ranks))
	var merges []merge
	for tok, rank := range ranks {
		vocab[toByteLevel([]byte(tok))] = rank
		var local []merge
		for i := 1; i < len(tok); i++ {
			l, r := tok[:i], tok[i:]
			if _, ok := ranks[l]; !ok {
				continue
			}
			if _, ok := ranks[r]; ok {
				local = append(local, merge{l, r, rank})
			}
		}
		merges = append(merges, local...)
	}
	sort.Slice(merges, func(i, j int) bool {
		a, b := merges[i], merges[j]
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if ranks[a.l] != ranks[b.l] {
			return ranks[a.l] < ranks[b.l]
		}
		return ranks[a.r] < ranks[b.r]
	})
	m := make([][2]string, len(merges))
	for i, x := range merges {
		m[i] = [2]string{toByteLevel([]byte(x.l)), toByteLevel([]byte(x.r))}
	}
	f := map[string]any{"version": "1.0", "truncation": nil, "padding": nil, "normalizer": nil, "post_processor": nil,
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}}
	var adds []hfAdded
	for s, id := range added {
		adds = append(adds, hfAdded{ID: id, Content: s, Special: true})
	}
	sort.Slice(adds, func(i, j int) bool { return adds[i].ID < adds[j].ID })
	f["added_tokens"] = adds
	no := false
	if pattern == PatternGPT2 {
		f["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	} else {
		f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": pattern}, "behavior": "Isolated", "invert": no},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}}}
	}
	f["model"] = map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
		"fuse_unk": false, "byte_fallback": false, "ignore_merges": ignoreMerges, "vocab": vocab, "merges": m}
	return json.Marshal(f)
}

// SplitPattern returns the split pattern a tokenizer.json declares, or ""
// when it declares no pre-tokenizer; an unknown pattern is an error
// wrapping ErrUnknownPattern.
func SplitPattern(data []byte) (string, error) {
	var f struct {
		PreTokenizer *hfPreTokenizer `json:"pre_tokenizer"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("tokenizer.json: %w", err)
	}
	if f.PreTokenizer == nil {
		return "", nil
	}
	return hfSplitPattern(f.PreTokenizer)
}
