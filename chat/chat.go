// Package chat renders a model's chat template (Jinja, as Hugging Face's
// apply_chat_template renders it: trim_blocks and lstrip_blocks) over a
// conversation, into the text a model was trained to continue. The engine
// is github.com/ardanlabs/jinja, a Jinja implementation for the templates
// LLMs ship (no dependencies); docs/TOKENIZER.md §Chat templates.
package chat

import (
	"encoding/json"
	"fmt"

	"github.com/ardanlabs/jinja"
)

// A Message is one turn: role (system, user, assistant, tool), content, and
// for a system turn optionally the tools as a JSON string (Phi-4-mini's
// template puts it between <|tool|> and <|/tool|>).
type Message struct {
	Role    string  `json:"role"`
	Content string  `json:"content"`
	Tools   *string `json:"tools,omitempty"`
}

// A Template is a compiled chat template with its special tokens.
type Template struct {
	t                  *jinja.Template
	BOSToken, EOSToken string
}

// Compile compiles a chat template.
func Compile(source, bos, eos string) (*Template, error) {
	t, err := jinja.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	return &Template{t: t, BOSToken: bos, EOSToken: eos}, nil
}

// Render renders messages; with addGenerationPrompt the text ends where the
// assistant's reply begins.
func (t *Template) Render(messages []Message, addGenerationPrompt bool) (string, error) {
	// Through JSON, so that the template sees maps (message['role']) and a
	// null tools value as none, as in Python.
	b, err := json.Marshal(messages)
	if err != nil {
		return "", err
	}
	var ms []any
	if err := json.Unmarshal(b, &ms); err != nil {
		return "", err
	}
	out, err := t.t.Render(map[string]any{"messages": ms, "add_generation_prompt": addGenerationPrompt,
		"bos_token": t.BOSToken, "eos_token": t.EOSToken})
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return out, nil
}
