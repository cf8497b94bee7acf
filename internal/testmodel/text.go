package testmodel

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/tokenizer"
)

// TextConfig is a small Phi4Flash-style config whose vocabulary (320 ids)
// holds a byte-level tokenizer: TextTokenizer's.
func TextConfig() reference.Config {
	return reference.Config{NLayer: 4, NEmbd: 64, NHead: 4, NKVHead: 2, HeadDim: 16, Intermediate: 128,
		VocabSize: 320, Window: 16, DState: 16, DConv: 4, Expand: 2, DtRank: 4, Norm: reference.LayerNorm,
		NormEps: 1e-5, DiffAttn: true, QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, MaxPosition: 4096,
		LogitScale: 1, AttnScale: 0.25}
}

// WriteTextTokenizer writes tokenizer.json into dir: byte-level BPE with
// o200k's split pattern, the 256 bytes as ids 0–255, a few English merges
// after them, and <|endoftext|> = 300; every piece merged (no whole-token
// shortcut), as a GGUF file spells it, so that both give the same ids.
func WriteTextTokenizer(tb testing.TB, dir string) {
	ranks := map[string]int{}
	for b := 0; b < 256; b++ {
		ranks[string([]byte{byte(b)})] = b
	}
	for i, m := range []string{"th", "he", "in", "er", "an", " t", " a", "re", "on", " the", "ing", "nd", " s", "en", "at", "ed"} {
		ranks[m] = 256 + i
	}
	js, err := tokenizer.TiktokenToHF(ranks, tokenizer.PatternO200k, map[string]int{"<|endoftext|>": 300}, false)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644); err != nil {
		tb.Fatal(err)
	}
}
