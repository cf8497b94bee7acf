package tokenizer

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestTrainedExample: the example model's tokenizer (a byte-level BPE that
// reference/torch/train_example.py trained on Go source, o200k_base's split
// pattern) encodes the held-out Go text to the ids the training script's own
// BPE encoder wrote, and decodes them back to the text.
func TestTrainedExample(t *testing.T) {
	dir := filepath.Join("..", "testdata", "phi4flash-go")
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(dir, "heldout.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "heldout.ids"))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, len(raw)/2)
	for i := range want {
		want[i] = int(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	got := tok.Encode(string(text))
	if len(got) != len(want) {
		t.Errorf("%d ids, the training script's encoder %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("id %d: %d, the training script's encoder %d", i, got[i], want[i])
		}
	}
	back, err := tok.Decode(got)
	if err != nil || string(back) != string(text) {
		t.Errorf("decode(encode(text)) differs from the text (%d vs %d bytes), %v", len(back), len(text), err)
	}
	if tok.VocabSize() != 2048 {
		t.Errorf("vocabulary %d, want 2048", tok.VocabSize())
	}
	for _, s := range []string{"<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"} {
		if _, ok := tok.SpecialID(s); !ok {
			t.Errorf("no special token %s", s)
		}
	}
}
