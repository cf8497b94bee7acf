package ggufmodel

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzTokenizer reads arbitrary tokenizer.json bytes (with the testdata
// model's config beside them): never a panic, and an accepted tokenizer
// has one token and one type per id of the vocabulary, and every special id
// inside it.
func FuzzTokenizer(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(td, "phi4flash-tiny", "hf", "tokenizer.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":200},"merges":[["a","b"],"a b",3]}}`))
	f.Add([]byte(`{"model":{"type":"Unigram"}}`))
	f.Add([]byte(`{"added_tokens":[{"id":-1,"content":"x","special":true}],"model":{"type":"BPE","vocab":{}}}`))
	cfg, err := os.ReadFile(filepath.Join(td, "phi4flash-tiny", "hf", "config.json"))
	if err != nil {
		f.Fatal(err)
	}
	// One folder per fuzz worker process (a worker runs inputs one at a
	// time): a t.TempDir per input makes the fuzzer crawl.
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		const vocab = 128
		tok, err := readTokenizer(dir, vocab)
		if err != nil || tok == nil {
			return
		}
		if len(tok.Tokens) != vocab || len(tok.Types) != vocab {
			t.Fatalf("%d tokens, %d types for a vocabulary of %d", len(tok.Tokens), len(tok.Types), vocab)
		}
		for k, id := range tok.Special {
			if id < 0 || id >= vocab {
				t.Fatalf("special id %s = %d outside the vocabulary", k, id)
			}
		}
	})
}
