package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// A pre-tokenizer splits text into the pieces BPE merges within. The
// byte-level BPE tokenizers of GPT-2 and tiktoken declare theirs as a
// regular expression with a lookahead (\s+(?!\S)), which Go's regexp
// cannot run; the known patterns are implemented here by hand, exactly as
// a backtracking engine (fancy-regex, PCRE) runs them: at each position the
// first alternative that matches, each quantifier greedy with backtracking.
// docs/TOKENIZER.md has the patterns.

// Known pre-tokenizer patterns, as tokenizer files spell them.
const (
	PatternGPT2  = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	PatternO200k = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// splitter returns the length in bytes of the piece starting at s[0]
// (s is not empty; the result is ≥ 1).
type splitter func(s []byte) int

// splitters maps each known pattern to its matcher.
var splitters = map[string]splitter{
	PatternGPT2:  gpt2Piece,
	PatternO200k: o200kPiece,
}

// A char is one decoded rune of the text and its width; bytes that are not
// UTF-8 are chars of their own that are no letter, number or space.
func char(s []byte, i int) (rune, int) {
	r, n := utf8.DecodeRune(s[i:])
	return r, n
}

func isL(r rune) bool { return r != utf8.RuneError && unicode.IsLetter(r) }
func isN(r rune) bool { return r != utf8.RuneError && unicode.Is(unicode.N, r) }
func isS(r rune) bool { return unicode.Is(unicode.White_Space, r) }
func isM(r rune) bool { return r != utf8.RuneError && unicode.Is(unicode.M, r) }

// o200k's classes: upper-ish [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], lower-ish
// [\p{Ll}\p{Lm}\p{Lo}\p{M}], and the optional leading [^\r\n\p{L}\p{N}].
func isUpperish(r rune) bool {
	return r != utf8.RuneError && (unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo) || isM(r))
}
func isLowerish(r rune) bool {
	return r != utf8.RuneError && (unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo) || isM(r))
}
func isLead(r rune) bool { return r != '\r' && r != '\n' && !isL(r) && !isN(r) }

// isPunct is [^\s\p{L}\p{N}].
func isPunct(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }

// run returns the end of the longest run from i of chars in class.
func run(s []byte, i int, class func(rune) bool) int {
	for i < len(s) {
		r, n := char(s, i)
		if !class(r) {
			break
		}
		i += n
	}
	return i
}

// contraction returns the length of 's|'t|'re|'ve|'m|'ll|'d at s[i:]
// (any case when fold), or 0.
func contraction(s []byte, i int, fold bool) int {
	if i >= len(s) || s[i] != '\'' {
		return 0
	}
	lower := func(b byte) byte {
		if fold && 'A' <= b && b <= 'Z' {
			return b + 'a' - 'A'
		}
		return b
	}
	if i+1 < len(s) {
		switch lower(s[i+1]) {
		case 's', 't', 'm', 'd':
			return 2
		}
	}
	if i+2 < len(s) {
		switch string([]byte{lower(s[i+1]), lower(s[i+2])}) {
		case "re", "ve", "ll":
			return 3
		}
	}
	return 0
}

// spaces matches \s*[\r\n]+ (nl), else \s+(?!\S), else \s+ at s[0], which
// is a space char; it returns the length.
func spaces(s []byte, nl bool) int {
	end := run(s, 0, isS)
	if nl {
		// \s* backs off to the last CR or LF of the run; [\r\n]+ then takes it.
		last := -1
		for i := 0; i < end; {
			r, n := char(s, i)
			if r == '\r' || r == '\n' {
				last = i
			}
			i += n
		}
		if last >= 0 {
			return last + 1
		}
	}
	if end == len(s) {
		return end
	}
	// \s+(?!\S): give back the last space char, if one is left.
	_, n := utf8.DecodeLastRune(s[:end])
	if end-n > 0 {
		return end - n
	}
	return end // \s+
}

// gpt2Piece matches PatternGPT2 at s[0].
func gpt2Piece(s []byte) int {
	if n := contraction(s, 0, false); n > 0 {
		return n
	}
	r, w := char(s, 0)
	start := 0
	if r == ' ' && len(s) > 1 {
		if r2, _ := char(s, 1); isL(r2) || isN(r2) || isPunct(r2) {
			start, r = 1, r2
		}
	}
	switch {
	case isL(r):
		return run(s, start, isL)
	case isN(r):
		return run(s, start, isN)
	case isPunct(r):
		return run(s, start, isPunct)
	}
	if isS(r) {
		return spaces(s, false)
	}
	return w
}

// o200kPiece matches PatternO200k at s[0].
func o200kPiece(s []byte) int {
	r0, w0 := char(s, 0)
	starts := []int{0}
	if isLead(r0) {
		starts = []int{w0, 0} // the optional lead char, greedy: with it first
	}
	// [lead]?[U]*[W]+('s…)?
	for _, j := range starts {
		k := run(s, j, isUpperish)
		// U* gives back chars until W+ can start.
		for p := k; p >= j; {
			if p < len(s) {
				if r, _ := char(s, p); isLowerish(r) {
					e := run(s, p, isLowerish)
					return e + contraction(s, e, true)
				}
			}
			if p == j {
				break
			}
			_, n := utf8.DecodeLastRune(s[j:p])
			p -= n
		}
	}
	// [lead]?[U]+[W]*('s…)?
	for _, j := range starts {
		if k := run(s, j, isUpperish); k > j {
			e := run(s, k, isLowerish)
			return e + contraction(s, e, true)
		}
	}
	// \p{N}{1,3}
	if isN(r0) {
		e := w0
		for c := 1; c < 3 && e < len(s); c++ {
			r, n := char(s, e)
			if !isN(r) {
				break
			}
			e += n
		}
		return e
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n/]*
	j := 0
	if r0 == ' ' && len(s) > 1 {
		if r1, _ := char(s, 1); isPunct(r1) {
			j = 1
		}
	}
	if r, _ := char(s, j); isPunct(r) {
		e := run(s, j, isPunct)
		for e < len(s) && (s[e] == '\r' || s[e] == '\n' || s[e] == '/') {
			e++
		}
		return e
	}
	if isS(r0) {
		return spaces(s, true)
	}
	return w0 // no alternative matches: the char alone (the pattern leaves it; BPE takes it as is)
}

// split cuts text into pieces with sp.
func split(sp splitter, text []byte, yield func(piece []byte)) {
	for len(text) > 0 {
		n := sp(text)
		yield(text[:n])
		text = text[n:]
	}
}
