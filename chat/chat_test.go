package chat

import (
	"encoding/json"
	"os"
	"testing"
)

// TestPhi4FlashTemplate renders the release's template over the fixture
// conversations (system with tools, multi-turn, a tool call and its
// response, tools null, empty content) and compares with Jinja2's output
// (reference/tokenizer/chat_fixtures.py).
func TestPhi4FlashTemplate(t *testing.T) {
	var cfg struct {
		ChatTemplate string `json:"chat_template"`
		BOS          string `json:"bos_token"`
		EOS          string `json:"eos_token"`
	}
	b, err := os.ReadFile("../testdata/phi4flash-release/tokenizer_config.json")
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatal(err)
	}
	tmpl, err := Compile(cfg.ChatTemplate, cfg.BOS, cfg.EOS)
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Messages []Message `json:"messages"`
		Gen      bool      `json:"add_generation_prompt"`
		Want     string    `json:"want"`
	}
	b, err = os.ReadFile("../testdata/chat/phi4flash.json")
	if err != nil || json.Unmarshal(b, &cases) != nil || len(cases) < 10 {
		t.Fatalf("%d cases, %v", len(cases), err)
	}
	for i, c := range cases {
		got, err := tmpl.Render(c.Messages, c.Gen)
		if err != nil || got != c.Want {
			t.Errorf("case %d: %q, %v\nJinja2: %q", i, got, err, c.Want)
		}
	}
	if _, err := Compile("{% for x in %}", "", ""); err == nil {
		t.Error("a broken template compiled")
	}
}
