package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../testdata/tokenizer"

func gunzip(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadTiktoken builds the tokenizer of a tiktoken encoding from the
// fixture files the tiktoken npm package's data was written to.
func loadTiktoken(t testing.TB, name string) *Tokenizer {
	t.Helper()
	ranks, err := ReadTiktoken(bytes.NewReader(gunzip(t, name+".tiktoken.gz")))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Pat     string         `json:"pat_str"`
		Special map[string]int `json:"special_tokens"`
	}
	b, err := os.ReadFile(filepath.Join(fixtures, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	tk, err := NewTiktoken(ranks, meta.Pat, meta.Special)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func wantIDs(t testing.TB, name string) []int {
	b := gunzip(t, "corpus."+name+".ids.gz")
	ids := make([]int, len(b)/4)
	for i := range ids {
		ids[i] = int(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return ids
}

// TestTiktokenFixtures encodes the 1.2 MB corpus (prose, Go and Python
// source, many scripts, emoji, whitespace and digit runs, special tokens)
// and compares every id with tiktoken's own (reference/tokenizer).
func TestTiktokenFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes the 1.2 MB corpus (the full test run does)")
	}
	corpus := string(gunzip(t, "corpus.txt.gz"))
	for _, name := range []string{"o200k_base", "gpt2"} {
		tk := loadTiktoken(t, name)
		got, want := tk.Encode(corpus), wantIDs(t, name)
		n := min(len(got), len(want))
		first := -1
		for i := 0; i < n; i++ {
			if got[i] != want[i] {
				first = i
				break
			}
		}
		if first >= 0 || len(got) != len(want) {
			if first < 0 {
				first = n
			}
			lo := max(0, first-5)
			gb, _ := tk.Decode(got[lo:min(len(got), first+8)])
			wb, _ := tk.Decode(want[lo:min(len(want), first+8)])
			t.Errorf("%s: %d ids, tiktoken %d; first difference at %d:\n got  %v %q\n want %v %q", name, len(got), len(want), first,
				got[lo:min(len(got), first+8)], gb, want[lo:min(len(want), first+8)], wb)
			continue
		}
		back, err := tk.Decode(got)
		if err != nil || string(back) != corpus {
			t.Errorf("%s: decode(encode(corpus)) differs from the corpus (%v)", name, err)
		}
		t.Logf("%s: %d bytes → %d ids, all equal to tiktoken's", name, len(corpus), len(got))
	}
}

// TestHFFixtures builds tokenizer.json files from the tiktoken ranks (GPT-2's,
// and Phi-4-mini-flash's: o200k_base with the release's added tokens), reads
// them back, and compares the ids of the corpus (and a chat turn) with
// tokenizers.js's on the files the fixture script built the same way.
func TestHFFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes the 1.2 MB corpus (the full test run does)")
	}
	corpus := string(gunzip(t, "corpus.txt.gz")) + "\n<|user|>Hi<|end|><|assistant|>"
	var phiAdded map[string]int
	b, err := os.ReadFile("../testdata/phi4flash-release/added_tokens.json")
	if err != nil || json.Unmarshal(b, &phiAdded) != nil {
		t.Fatal(err)
	}
	phiAdded["<|endoftext|>"], phiAdded["<|endofprompt|>"] = 199999, 200018
	for _, c := range []struct {
		name, ranks  string
		added        map[string]int
		ignoreMerges bool
	}{
		{"gpt2", "gpt2", map[string]int{"<|endoftext|>": 50256}, false},
		{"phi4flash", "o200k_base", phiAdded, true},
	} {
		ranks, err := ReadTiktoken(bytes.NewReader(gunzip(t, c.ranks+".tiktoken.gz")))
		if err != nil {
			t.Fatal(err)
		}
		pat := PatternGPT2
		if c.ranks == "o200k_base" {
			pat = PatternO200k
		}
		js, err := TiktokenToHF(ranks, pat, c.added, c.ignoreMerges)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := ParseHF(js)
		if err != nil {
			t.Fatal(err)
		}
		text := corpus
		if c.name == "gpt2" {
			// tokenizers.js's JavaScript \s leaves out U+0085; the fixture's
			// GPT-2 text has none (docs/TOKENIZER.md).
			text = strings.ReplaceAll(corpus, "\u0085", "")
		}
		got, want := tk.Encode(text), wantIDs(t, c.name+".hf")
		first := -1
		for i := 0; i < min(len(got), len(want)); i++ {
			if got[i] != want[i] {
				first = i
				break
			}
		}
		if first >= 0 || len(got) != len(want) {
			if first < 0 {
				first = min(len(got), len(want))
			}
			lo, hi := max(0, first-4), first+6
			gb, _ := tk.Decode(got[lo:min(hi, len(got))])
			wb, _ := tk.Decode(want[lo:min(hi, len(want))])
			t.Errorf("%s: %d ids, tokenizers.js %d; first difference at %d:\n got  %v %q\n want %v %q", c.name, len(got), len(want), first,
				got[lo:min(hi, len(got))], gb, want[lo:min(hi, len(want))], wb)
			continue
		}
		if back, err := tk.Decode(got); err != nil || string(back) != text {
			t.Errorf("%s: decode(encode(corpus)) differs (%v)", c.name, err)
		}
		t.Logf("%s: %d ids equal to tokenizers.js's (tokenizer.json of %d bytes)", c.name, len(got), len(js))
	}
}

// TestLoadGPT2Files: vocab.json and merges.txt (as GPT-2 ships them, here
// written from the GPT-2 ranks the converter's way) load as the
// tokenizer.json of the same vocabulary does, and give tiktoken's ids.
func TestLoadGPT2Files(t *testing.T) {
	ranks, err := ReadTiktoken(bytes.NewReader(gunzip(t, "gpt2.tiktoken.gz")))
	if err != nil {
		t.Fatal(err)
	}
	js, err := TiktokenToHF(ranks, PatternGPT2, map[string]int{"<|endoftext|>": 50256}, false)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Merges [][2]string    `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(js, &f); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vb, _ := json.Marshal(f.Model.Vocab)
	os.WriteFile(filepath.Join(dir, "vocab.json"), vb, 0o644)
	var mb strings.Builder
	mb.WriteString("#version: 0.2\n")
	for _, m := range f.Model.Merges {
		mb.WriteString(m[0] + " " + m[1] + "\n")
	}
	os.WriteFile(filepath.Join(dir, "merges.txt"), []byte(mb.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "added_tokens.json"), []byte(`{"<|endoftext|>": 50256}`), 0o644)
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	text := "Hello world<|endoftext|> It's 2024!\n\n  indented\tcode()  "
	got, want := tk.Encode(text), loadTiktoken(t, "gpt2").Encode(text)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GPT-2 files: %v, tiktoken %v", got, want)
	}
	for _, bad := range []map[string]string{
		{"vocab.json": "{", "merges.txt": ""},
		{"vocab.json": `{"a": 0}`, "merges.txt": "a b\n"},
		{"tokenizer.json": `{"model": {"type": "Unigram"}}`},
		{"tokenizer.json": `{"normalizer": {"type": "NFC"}, "model": {"type": "BPE"}}`},
		{"tokenizer.json": `{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"}, {"type": "ByteLevel", "use_regex": false}]}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`},
		{},
	} {
		d := t.TempDir()
		for n, c := range bad {
			os.WriteFile(filepath.Join(d, n), []byte(c), 0o644)
		}
		if _, err := Load(d); err == nil {
			t.Errorf("%v: loaded", bad)
		}
	}
}

// TestFromGGML: Phi-4-mini-flash's tokenizer as a GGUF file spells it
// (tokens by id, types, merges, pre "gpt-4o") gives tiktoken's ids: the
// converter's merges reproduce the ranks without the whole-token shortcut.
func TestFromGGML(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes the 1.2 MB corpus (the full test run does)")
	}
	ranks, err := ReadTiktoken(bytes.NewReader(gunzip(t, "o200k_base.tiktoken.gz")))
	if err != nil {
		t.Fatal(err)
	}
	special := map[string]int{"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
	js, err := TiktokenToHF(ranks, PatternO200k, special, true)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Merges [][2]string    `json:"merges"`
		} `json:"model"`
	}
	json.Unmarshal(js, &f)
	tokens, types := make([]string, 200064), make([]int32, 200064)
	for i := range tokens {
		tokens[i], types[i] = fmt.Sprintf("[PAD%d]", i), ggmlUnused
	}
	for s, id := range f.Model.Vocab {
		tokens[id], types[id] = s, ggmlNormal
	}
	for s, id := range special {
		tokens[id], types[id] = s, ggmlControl
	}
	merges := make([]string, len(f.Model.Merges))
	for i, m := range f.Model.Merges {
		merges[i] = m[0] + " " + m[1]
	}
	tk, err := FromGGML("gpt2", "gpt-4o", tokens, types, merges)
	if err != nil {
		t.Fatal(err)
	}
	corpus := string(gunzip(t, "corpus.txt.gz"))
	got, want := tk.Encode(corpus), wantIDs(t, "o200k_base")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		n := 0
		for n < min(len(got), len(want)) && got[n] == want[n] {
			n++
		}
		t.Errorf("%d ids, tiktoken %d; first difference at %d", len(got), len(want), n)
	}
	for _, c := range [][2]string{{"llama", "gpt-4o"}, {"gpt2", "llama3"}} {
		if _, err := FromGGML(c[0], c[1], tokens, types, merges); err == nil {
			t.Errorf("model %q pre %q accepted", c[0], c[1])
		}
	}
}

// TestManySpecialTokens: text made of special tokens (each special token
// is searched for once per occurrence of it, not once per token of the
// text: quadratic before, which this size made take minutes), with
// overlapping candidates resolved leftmost, then longest.
func TestManySpecialTokens(t *testing.T) {
	tk := loadTiktoken(t, "o200k_base")
	n := 50000
	text := strings.Repeat("<|endoftext|>", n) + "x<|endofprompt|>"
	if ids := tk.Encode(text); len(ids) != n+2 || ids[0] != 199999 || ids[n+1] != 200018 {
		t.Errorf("%d ids, first %d, last %d", len(ids), ids[0], ids[len(ids)-1])
	}
	// "<|endoftext|>" inside a longer would-be token: leftmost wins.
	if ids := tk.Encode("a<|endoftext|><|endofprompt|>"); len(ids) != 3 || ids[1] != 199999 || ids[2] != 200018 {
		t.Errorf("%v", ids)
	}
}

// TestBPEHeap: the O(n log n) merge loop for long pieces merges exactly as
// the scan does, on pieces from the corpus and runs of one character, with
// a number of rank lookups linear in the piece.
func TestBPEHeap(t *testing.T) {
	tk := loadTiktoken(t, "o200k_base")
	scan := func(piece []byte) []int { return bpeScan(piece, tk.rank, nil) }
	corpus := gunzip(t, "corpus.txt.gz")
	var pieces [][]byte
	for i := 0; i+600 < len(corpus); i += 9973 {
		pieces = append(pieces, corpus[i:i+1+i%600])
	}
	for _, s := range []string{strings.Repeat("a", 3000), strings.Repeat(" ", 1000), strings.Repeat("ab", 777), strings.Repeat("中文", 300)} {
		pieces = append(pieces, []byte(s))
	}
	for _, p := range pieces {
		if a, b := scan(p), bpeHeap(p, tk.rank, nil); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("piece %q: scan %v, heap %v", p[:min(40, len(p))], a, b)
		}
	}
	// A long piece costs O(n) rank lookups (each merge adds at most two
	// candidate pairs), not O(n²).
	n := 1 << 20
	if testing.Short() {
		n = 1 << 16
	}
	calls := 0
	count := func(a, b []byte) (int, bool) { calls++; return tk.rank(a, b) }
	if b := bpeHeap([]byte(strings.Repeat("a", n)), count, nil); len(b) == 0 || b[len(b)-1] != n {
		t.Fatalf("bounds end at %v", b[len(b)-1:])
	}
	if calls > 3*n {
		t.Errorf("%d rank lookups for a piece of %d bytes", calls, n)
	}
}
