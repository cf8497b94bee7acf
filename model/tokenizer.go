package model

import (
	"fmt"

	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/tokenizer"
)

// Tokenizer returns the tokenizer of any model path: a GGUF file's
// embedded one (tokenizer.ggml.*), or a canonical or MLX folder's
// tokenizer.json (else vocab.json and merges.txt).
func Tokenizer(path string) (*tokenizer.Tokenizer, error) {
	kind, err := Sniff(path)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindGGUF:
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		t, err := ggufmodel.ReadTokenizer(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if t == nil {
			return nil, fmt.Errorf("%s carries no tokenizer (tokenizer.ggml.*): it was written from a folder without tokenizer.json", path)
		}
		tk, err := tokenizer.FromGGML(t.Model, t.Pre, t.Tokens, t.Types, t.Merges)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return tk, nil
	case KindFolder, KindMLX:
		return tokenizer.Load(path)
	}
	return nil, fmt.Errorf("%s is %s: a tokenizer comes with a model folder or a GGUF file", path, describe(kind))
}
