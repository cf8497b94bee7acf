package model

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/sambay-conv/sambay-conv/chat"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
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
		t, err := ggufTokenizer(path)
		if err != nil {
			return nil, err
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

// ggufTokenizer reads the tokenizer metadata of a GGUF file (nil when it
// carries none).
func ggufTokenizer(path string) (*ggufmodel.Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ggufmodel.ReadTokenizer(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ChatTemplate returns the chat template of any model path: a GGUF file's
// tokenizer.chat_template, or a folder's tokenizer_config.json
// chat_template (a string, or a list of named templates: "default"), with
// its BOS and EOS token texts.
func ChatTemplate(path string) (*chat.Template, error) {
	kind, err := Sniff(path)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindGGUF:
		t, err := ggufTokenizer(path)
		if err != nil {
			return nil, err
		}
		if t == nil || !t.HasTemplate {
			return nil, fmt.Errorf("%s carries no chat template (tokenizer.chat_template)", path)
		}
		tok := func(k string) string {
			if id, ok := t.Special[k]; ok && id < len(t.Tokens) {
				return t.Tokens[id]
			}
			return ""
		}
		return chat.Compile(t.ChatTemplate, tok("bos_token_id"), tok("eos_token_id"))
	case KindFolder, KindMLX:
		b, err := sidefile.Read(path, "tokenizer_config.json")
		if err != nil {
			return nil, fmt.Errorf("no chat template: %w", err)
		}
		var cfg struct {
			Template json.RawMessage `json:"chat_template"`
			BOS, EOS json.RawMessage
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(path, "tokenizer_config.json"), err)
		}
		cfg.Template, cfg.BOS, cfg.EOS = raw["chat_template"], raw["bos_token"], raw["eos_token"]
		src, err := templateSource(cfg.Template)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(path, "tokenizer_config.json"), err)
		}
		return chat.Compile(src, tokenText(cfg.BOS), tokenText(cfg.EOS))
	}
	return nil, fmt.Errorf("%s is %s: a chat template comes with a model folder or a GGUF file", path, describe(kind))
}

// templateSource reads chat_template: a string, or [{name, template}] with
// the one named "default".
func templateSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("no chat_template")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("chat_template: %w", err)
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	return "", fmt.Errorf("chat_template: no template named default")
}

// tokenText reads a special token as tokenizer_config.json writes it: a
// string or {"content": …}.
func tokenText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Content string `json:"content"`
	}
	json.Unmarshal(raw, &o)
	return o.Content
}
