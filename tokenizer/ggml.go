package tokenizer

import (
	"encoding/json"
	"fmt"
)

// GGUF token types (llama.cpp's llama_token_type) that FromGGML reads.
const (
	ggmlNormal      = 1
	ggmlControl     = 3
	ggmlUserDefined = 4
	ggmlUnused      = 5
)

// ggmlPre maps llama.cpp's tokenizer.ggml.pre names to split patterns.
var ggmlPre = map[string]string{"gpt2": PatternGPT2, "default": PatternGPT2, "gpt-4o": PatternO200k}

// FromGGML builds the tokenizer a GGUF file carries (tokenizer.ggml.model
// "gpt2": byte-level BPE): tokens by id in byte-level spelling, their types
// (control and user-defined tokens are matched in the text; unused ids are
// left out), merges "a b" by rank, and the pre-tokenizer name. llama.cpp
// merges every piece (no whole-token shortcut) for these pre-tokenizers.
func FromGGML(model, pre string, tokens []string, types []int32, merges []string) (*Tokenizer, error) {
	if model != "gpt2" {
		return nil, fmt.Errorf("tokenizer.ggml.model %q: only gpt2 (byte-level BPE) is supported", model)
	}
	pattern, ok := ggmlPre[pre]
	if !ok {
		return nil, fmt.Errorf("%w: tokenizer.ggml.pre %q (known: gpt2, default, gpt-4o)", ErrUnknownPattern, pre)
	}
	if len(types) != len(tokens) {
		return nil, fmt.Errorf("%d token types for %d tokens", len(types), len(tokens))
	}
	vocab := map[string]int{}
	var added []hfAdded
	for id, s := range tokens {
		switch types[id] {
		case ggmlNormal:
			vocab[s] = id
		case ggmlControl, ggmlUserDefined:
			added = append(added, hfAdded{ID: id, Content: s, Special: true})
		case ggmlUnused:
		default:
			return nil, fmt.Errorf("token %d %q has type %d (want normal, control, user-defined or unused)", id, s, types[id])
		}
	}
	pt := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}
	if pattern != PatternGPT2 {
		pt = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": pattern}, "behavior": "Isolated"},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}}}
	}
	js, err := json.Marshal(map[string]any{"added_tokens": added, "pre_tokenizer": pt,
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": merges}})
	if err != nil {
		return nil, err
	}
	return ParseHF(js)
}
