package ggufmodel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sambay-conv/sambay-conv/formats/gguf"
)

// tokenizerKVs builds the tokenizer metadata of spec gguf.md §8.1 from the
// Hugging Face tokenizer files of a model folder: a byte-level BPE
// tokenizer.json becomes tokenizer.ggml.model "gpt2" with pre-tokenizer
// "gpt-4o" (the Phi-4-mini o200k family), the tokens of every id (ids
// without a token get "[PAD{i}]" and type 5 UNUSED; added tokens are 3
// CONTROL when special, else 4 USER_DEFINED), the merges, the special ids
// from config.json / generation_config.json, and the chat template. It
// returns nil when the folder has no tokenizer.json.
func tokenizerKVs(dir string, vocab int) ([]gguf.KV, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var tok struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		Model struct {
			Type   string            `json:"type"`
			Vocab  map[string]int    `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		return nil, fmt.Errorf("%s: tokenizer.json: %v", dir, err)
	}
	if tok.Model.Type != "BPE" {
		return nil, fmt.Errorf("%s: tokenizer.json model type %q: only BPE tokenizers are written to GGUF", dir, tok.Model.Type)
	}
	tokens := make([]any, vocab)
	types := make([]any, vocab)
	for i := range tokens {
		tokens[i], types[i] = fmt.Sprintf("[PAD%d]", i), int32(5)
	}
	for t, id := range tok.Model.Vocab {
		if id < 0 || id >= vocab {
			return nil, fmt.Errorf("%s: tokenizer.json: token %q has id %d outside the vocabulary of %d", dir, t, id, vocab)
		}
		tokens[id], types[id] = t, int32(1)
	}
	for _, a := range tok.AddedTokens {
		if a.ID < 0 || a.ID >= vocab {
			return nil, fmt.Errorf("%s: tokenizer.json: added token %q has id %d outside the vocabulary of %d", dir, a.Content, a.ID, vocab)
		}
		tokens[a.ID] = a.Content
		types[a.ID] = int32(4)
		if a.Special {
			types[a.ID] = int32(3)
		}
	}
	merges := make([]any, 0, len(tok.Model.Merges))
	for _, m := range tok.Model.Merges {
		var s string
		var pair []string
		if json.Unmarshal(m, &s) == nil {
			merges = append(merges, s)
		} else if json.Unmarshal(m, &pair) == nil && len(pair) == 2 {
			merges = append(merges, pair[0]+" "+pair[1])
		} else {
			return nil, fmt.Errorf("%s: tokenizer.json: merge %s is neither \"a b\" nor [a, b]", dir, m)
		}
	}
	kv := []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Value: "gpt-4o"},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Array{Type: gguf.TypeString, Values: tokens}},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Array{Type: gguf.TypeInt32, Values: types}},
		{Key: "tokenizer.ggml.merges", Value: gguf.Array{Type: gguf.TypeString, Values: merges}},
	}
	ids := map[string]int{}
	var conf map[string]any
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		json.Unmarshal(b, &conf)
	}
	for k, key := range map[string]string{"bos_token_id": "tokenizer.ggml.bos_token_id", "eos_token_id": "tokenizer.ggml.eos_token_id", "pad_token_id": "tokenizer.ggml.padding_token_id"} {
		if v, ok := conf[k].(float64); ok {
			ids[key] = int(v)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "generation_config.json")); err == nil {
		var gen map[string]any
		json.Unmarshal(b, &gen)
		if l, ok := gen["eos_token_id"].([]any); ok {
			for _, e := range l {
				if v, ok := e.(float64); ok && int(v) != ids["tokenizer.ggml.eos_token_id"] {
					ids["tokenizer.ggml.eot_token_id"] = int(v) // the other stop id (<|end|>)
					break
				}
			}
		}
	}
	var tcfg map[string]any
	if b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		json.Unmarshal(b, &tcfg)
	}
	if unk, ok := tcfg["unk_token"].(string); ok {
		for id, t := range tokens {
			if t == unk {
				ids["tokenizer.ggml.unknown_token_id"] = id
			}
		}
	}
	keys := make([]string, 0, len(ids))
	for k := range ids {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kv = append(kv, gguf.KV{Key: k, Value: uint32(ids[k])})
	}
	add := func(k string) bool { b, _ := tcfg[k].(bool); return b }
	kv = append(kv, gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: add("add_bos_token")},
		gguf.KV{Key: "tokenizer.ggml.add_eos_token", Value: add("add_eos_token")})
	if ct, ok := tcfg["chat_template"].(string); ok {
		kv = append(kv, gguf.KV{Key: "tokenizer.chat_template", Value: ct})
	}
	return kv, nil
}
