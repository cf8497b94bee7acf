package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
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
