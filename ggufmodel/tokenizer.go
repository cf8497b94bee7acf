package ggufmodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/tokenizer"
)

// Tokenizer metadata keys (docs/GGUF.md §Metadata, llama.cpp's names).
const (
	KeyTokModel        = "tokenizer.ggml.model"
	KeyTokPre          = "tokenizer.ggml.pre"
	KeyTokTokens       = "tokenizer.ggml.tokens"
	KeyTokTypes        = "tokenizer.ggml.token_type"
	KeyTokMerges       = "tokenizer.ggml.merges"
	KeyTokAddBOS       = "tokenizer.ggml.add_bos_token"
	KeyTokAddEOS       = "tokenizer.ggml.add_eos_token"
	KeyTokChatTemplate = "tokenizer.chat_template"
	keyTokIDPrefix     = "tokenizer.ggml."
)

// Token types (llama.cpp llama_token_type).
const (
	TokenNormal      int32 = 1
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
	TokenUnused      int32 = 5
)

// specialIDs names the special-token id keys, after "tokenizer.ggml.".
var specialIDs = []string{"bos_token_id", "eos_token_id", "eot_token_id", "padding_token_id", "unknown_token_id"}

// A Tokenizer is the tokenizer a SambaY GGUF file carries.
type Tokenizer struct {
	Model, Pre   string         // "gpt2", "gpt-4o"
	Tokens       []string       // by id; ids without a token hold "[PAD{id}]"
	Types        []int32        // by id: TokenNormal, TokenControl, …
	Merges       []string       // "a b"
	Special      map[string]int // specialIDs key → id
	AddBOS       bool
	AddEOS       bool
	ChatTemplate string
	HasTemplate  bool // ChatTemplate was given (possibly empty)
}

// readTokenizer builds the tokenizer of a Hugging Face model folder: a
// byte-level BPE tokenizer.json becomes model "gpt2" with pre-tokenizer
// "gpt-4o" (the Phi-4-mini o200k family), the tokens of every id (ids
// without a token get "[PAD{i}]" and type UNUSED; added tokens are CONTROL
// when special, else USER_DEFINED), the merges, the special ids from
// config.json / generation_config.json / tokenizer_config.json, and the
// chat template. It returns nil when the folder has no tokenizer.json.
func readTokenizer(dir string, vocab int) (*Tokenizer, error) {
	raw, err := sidefile.Read(dir, "tokenizer.json")
	if errors.Is(err, fs.ErrNotExist) {
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
		return nil, fmt.Errorf("%s: tokenizer.json: %w", dir, err)
	}
	if tok.Model.Type != "BPE" {
		return nil, fmt.Errorf("%s: tokenizer.json model type %q: only BPE tokenizers are written to GGUF", dir, tok.Model.Type)
	}
	// tokenizer.ggml.pre names the split pattern llama.cpp applies: GPT-2's
	// or o200k's ("gpt-4o", also for a file that declares none: the
	// Phi-4-mini family's); another pattern has no llama.cpp name.
	pre := "gpt-4o"
	switch pat, err := tokenizer.SplitPattern(raw); {
	case err != nil:
		return nil, fmt.Errorf("%s: %w (remove tokenizer.json to write the GGUF without a tokenizer)", dir, err)
	case pat == tokenizer.PatternGPT2:
		pre = "gpt2"
	}
	t := &Tokenizer{Model: "gpt2", Pre: pre, Tokens: make([]string, vocab), Types: make([]int32, vocab), Special: map[string]int{}}
	for i := range t.Tokens {
		t.Tokens[i], t.Types[i] = fmt.Sprintf("[PAD%d]", i), TokenUnused
	}
	for s, id := range tok.Model.Vocab {
		if id < 0 || id >= vocab {
			return nil, fmt.Errorf("%s: tokenizer.json: token %q has id %d outside the vocabulary of %d", dir, s, id, vocab)
		}
		t.Tokens[id], t.Types[id] = s, TokenNormal
	}
	for _, a := range tok.AddedTokens {
		if a.ID < 0 || a.ID >= vocab {
			return nil, fmt.Errorf("%s: tokenizer.json: added token %q has id %d outside the vocabulary of %d", dir, a.Content, a.ID, vocab)
		}
		t.Tokens[a.ID], t.Types[a.ID] = a.Content, TokenUserDefined
		if a.Special {
			t.Types[a.ID] = TokenControl
		}
	}
	t.Merges = make([]string, 0, len(tok.Model.Merges))
	for _, m := range tok.Model.Merges {
		var s string
		var pair []string
		if json.Unmarshal(m, &s) == nil {
			t.Merges = append(t.Merges, s)
		} else if json.Unmarshal(m, &pair) == nil && len(pair) == 2 {
			t.Merges = append(t.Merges, pair[0]+" "+pair[1])
		} else {
			return nil, fmt.Errorf("%s: tokenizer.json: merge %s is neither \"a b\" nor [a, b]", dir, m)
		}
	}
	return t, t.readSpecial(dir)
}

// readSpecial reads the special ids, the add-token flags and the chat
// template from the folder's JSON files (each optional).
func (t *Tokenizer) readSpecial(dir string) error {
	read := func(name string, v any) error {
		b, err := sidefile.Read(dir, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s: %s: %w", dir, name, err)
		}
		return nil
	}
	var conf, gen, tcfg map[string]any
	for _, f := range []struct {
		name string
		v    *map[string]any
	}{{"config.json", &conf}, {"generation_config.json", &gen}, {"tokenizer_config.json", &tcfg}} {
		if err := read(f.name, f.v); err != nil {
			return err
		}
	}
	for k, key := range map[string]string{"bos_token_id": "bos_token_id", "eos_token_id": "eos_token_id", "pad_token_id": "padding_token_id"} {
		if v, ok := conf[k].(float64); ok {
			t.Special[key] = int(v)
		}
	}
	if l, ok := gen["eos_token_id"].([]any); ok {
		for _, e := range l {
			if v, ok := e.(float64); ok && int(v) != t.Special["eos_token_id"] {
				t.Special["eot_token_id"] = int(v) // the other stop id (<|end|>)
				break
			}
		}
	}
	if unk, ok := tcfg["unk_token"].(string); ok {
		for id, s := range t.Tokens {
			if s == unk {
				t.Special["unknown_token_id"] = id
			}
		}
	}
	t.AddBOS, _ = tcfg["add_bos_token"].(bool)
	t.AddEOS, _ = tcfg["add_eos_token"].(bool)
	t.ChatTemplate, t.HasTemplate = tcfg["chat_template"].(string)
	for _, k := range specialIDs {
		if id, ok := t.Special[k]; ok && (id < 0 || id >= len(t.Tokens)) {
			return fmt.Errorf("%s: special token %s = %d lies outside the vocabulary of %d tokens (config.json / generation_config.json)", dir, k, id, len(t.Tokens))
		}
	}
	return nil
}

// kvs returns the tokenizer's metadata in file order.
func (t *Tokenizer) kvs() []gguf.KV {
	tokens, types, merges := make([]any, len(t.Tokens)), make([]any, len(t.Types)), make([]any, len(t.Merges))
	for i, s := range t.Tokens {
		tokens[i] = s
	}
	for i, v := range t.Types {
		types[i] = v
	}
	for i, s := range t.Merges {
		merges[i] = s
	}
	kv := []gguf.KV{
		{Key: KeyTokModel, Value: t.Model},
		{Key: KeyTokPre, Value: t.Pre},
		{Key: KeyTokTokens, Value: gguf.Array{Type: gguf.TypeString, Values: tokens}},
		{Key: KeyTokTypes, Value: gguf.Array{Type: gguf.TypeInt32, Values: types}},
		{Key: KeyTokMerges, Value: gguf.Array{Type: gguf.TypeString, Values: merges}},
	}
	keys := make([]string, 0, len(t.Special))
	for k := range t.Special {
		keys = append(keys, keyTokIDPrefix+k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kv = append(kv, gguf.KV{Key: k, Value: uint32(t.Special[strings.TrimPrefix(k, keyTokIDPrefix)])})
	}
	kv = append(kv, gguf.KV{Key: KeyTokAddBOS, Value: t.AddBOS}, gguf.KV{Key: KeyTokAddEOS, Value: t.AddEOS})
	if t.HasTemplate {
		kv = append(kv, gguf.KV{Key: KeyTokChatTemplate, Value: t.ChatTemplate})
	}
	return kv
}

// tokenizerKVs returns the tokenizer metadata of a model folder, or nil
// when it has no tokenizer.json.
func tokenizerKVs(dir string, vocab int) ([]gguf.KV, error) {
	t, err := readTokenizer(dir, vocab)
	if t == nil || err != nil {
		return nil, err
	}
	return t.kvs(), nil
}

// ReadTokenizer reads the tokenizer of a GGUF file back; it returns nil when
// the file carries none.
func ReadTokenizer(f *gguf.File) (*Tokenizer, error) {
	if _, ok := f.Get(KeyTokModel); !ok {
		return nil, nil
	}
	t := &Tokenizer{Special: map[string]int{}}
	var errs []error
	str := func(k string) string {
		v, _ := f.Get(k)
		s, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("%s missing or not a STRING", k))
		}
		return s
	}
	arr := func(k string, et gguf.ValueType) []any {
		v, _ := f.Get(k)
		a, ok := v.(gguf.Array)
		if !ok || a.Type != et {
			errs = append(errs, fmt.Errorf("%s missing or not an array of %v", k, et))
		}
		return a.Values
	}
	t.Model, t.Pre = str(KeyTokModel), str(KeyTokPre)
	for _, v := range arr(KeyTokTokens, gguf.TypeString) {
		t.Tokens = append(t.Tokens, v.(string))
	}
	for _, v := range arr(KeyTokTypes, gguf.TypeInt32) {
		t.Types = append(t.Types, v.(int32))
	}
	for _, v := range arr(KeyTokMerges, gguf.TypeString) {
		t.Merges = append(t.Merges, v.(string))
	}
	for _, k := range specialIDs {
		if v, ok := f.Get(keyTokIDPrefix + k); ok {
			id, ok := v.(uint32)
			if !ok || int(id) >= len(t.Tokens) {
				errs = append(errs, fmt.Errorf("%s%s = %v: want a UINT32 below the %d tokens", keyTokIDPrefix, k, v, len(t.Tokens)))
				continue
			}
			t.Special[k] = int(id)
		}
	}
	if v, ok := f.Get(KeyTokAddBOS); ok {
		t.AddBOS, _ = v.(bool)
	}
	if v, ok := f.Get(KeyTokAddEOS); ok {
		t.AddEOS, _ = v.(bool)
	}
	if v, ok := f.Get(KeyTokChatTemplate); ok {
		t.ChatTemplate, t.HasTemplate = v.(string)
	}
	if len(t.Types) != len(t.Tokens) {
		errs = append(errs, fmt.Errorf("%d token types for %d tokens", len(t.Types), len(t.Tokens)))
	}
	return t, errors.Join(errs...)
}
