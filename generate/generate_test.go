package generate

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

// argmaxRun is greedy decoding without the cache: the whole sequence
// prefilled again for every token.
func argmaxRun(t *testing.T, m *reference.Model, prompt []int, n int) []int {
	seq := slices.Clone(prompt)
	V := m.Cfg.VocabSize
	for range n {
		r, err := m.Run(m.NewState(), seq, reference.Want{})
		if err != nil {
			t.Fatal(err)
		}
		l := r.Logits[len(r.Logits)-V:]
		best := 0
		for i, v := range l {
			if v > l[best] {
				best = i
			}
		}
		seq = append(seq, best)
	}
	return seq[len(prompt):]
}

// TestGreedyCachedEqualsPrefill: greedy tokens through the cached decode
// path are those of re-running the whole sequence each step, and those of
// the PyTorch reference's greedy decoding of the same prompt.
func TestGreedyCachedEqualsPrefill(t *testing.T) {
	for _, name := range []string{"phi4flash-tiny", "sambay-tiny"} {
		m, err := model.Open(filepath.Join("..", "testdata", name, "hf"), reference.Options{})
		if err != nil {
			t.Fatal(err)
		}
		prompt := []int{5, 42, 7, 99, 3, 17, 64, 88}
		var got []int
		if _, _, err := Decode(context.Background(), m.Model, prompt, Options{MaxTokens: 24}, func(id int) bool {
			got = append(got, id)
			return false
		}); err != nil {
			t.Fatal(err)
		}
		if want := argmaxRun(t, m.Model, prompt, 24); !slices.Equal(got, want) {
			t.Errorf("%s: cached %v, prefill %v", name, got, want)
		}
		// The PyTorch reference's greedy decoding (reference/torch/sambay_ref.py --generate).
		if torch := readIDs(t, filepath.Join("..", "testdata", name, "greedy-fp32.txt")); !slices.Equal(got, torch) {
			t.Errorf("%s: greedy %v, PyTorch reference %v", name, got, torch)
		}
		m.Close()
	}
}

// TestGreedyTrainedExample: the trained example, imported from its
// training checkpoint, continues "func main() {" greedily with the tokens
// the PyTorch reference chose (reference/torch/train_example.py,
// greedy-fp32.txt), through the tokenizer that came with the checkpoint.
func TestGreedyTrainedExample(t *testing.T) {
	ex := filepath.Join("..", "testdata", "phi4flash-go")
	canon := filepath.Join(t.TempDir(), "canonical")
	if _, err := convert.Import(context.Background(), filepath.Join(ex, "archscale-head.pth"), convert.ImportOptions{
		Output: canon, Config: convert.ConfigOptions{ConfigFile: filepath.Join(ex, "litgpt-config.json")}}); err != nil {
		t.Fatal(err)
	}
	torch := readIDs(t, filepath.Join(ex, "greedy-fp32.txt"))
	r, err := Run(context.Background(), Options{Model: canon, Prompt: "func main() {", MaxTokens: len(torch)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The reference decodes past an end-of-sequence token; Run stops there.
	if !slices.Equal(r.Tokens, torch[:len(r.Tokens)]) || r.StopReason == "length" && len(r.Tokens) != len(torch) {
		t.Errorf("greedy %v (%s), PyTorch reference %v", r.Tokens, r.StopReason, torch)
	}
	t.Logf("func main() {%s", r.Text)
}

// readIDs reads comma-separated token ids.
func readIDs(t *testing.T, path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, f := range strings.Split(strings.TrimSpace(string(b)), ",") {
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ids = append(ids, v)
	}
	return ids
}

func textModel(t *testing.T) string {
	m := filepath.Join(t.TempDir(), "model")
	os.MkdirAll(m, 0o755)
	cfg := testmodel.TextConfig()
	testmodel.WriteSynthetic(t, m, cfg, convert.HFConfigJSON(&cfg, nil, nil), 0)
	testmodel.WriteTextTokenizer(t, m)
	return m
}

// TestSampling: a seed fixes the text; top-k 1 is greedy; stop strings cut
// the text before them; what is streamed is the text returned.
func TestSampling(t *testing.T) {
	m := textModel(t)
	run := func(o Options) *Result {
		t.Helper()
		o.Model, o.Prompt = m, "func main() {"
		if o.MaxTokens == 0 {
			o.MaxTokens = 24
		}
		var out bytes.Buffer
		r, err := Run(context.Background(), o, &out)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != r.Text {
			t.Errorf("streamed %q, returned %q", out.String(), r.Text)
		}
		return r
	}
	a, b := run(Options{Temp: 1, Seed: 7}), run(Options{Temp: 1, Seed: 7})
	if !slices.Equal(a.Tokens, b.Tokens) || len(a.Tokens) != 24 || a.StopReason != "length" {
		t.Errorf("same seed: %v, %v", a.Tokens, b.Tokens)
	}
	if c := run(Options{Temp: 1, Seed: 8}); slices.Equal(a.Tokens, c.Tokens) {
		t.Errorf("seeds 7 and 8 gave the same %d tokens", len(c.Tokens))
	}
	g, k1 := run(Options{}), run(Options{Temp: 0.7, TopK: 1, Seed: 3})
	if !slices.Equal(g.Tokens, k1.Tokens) {
		t.Errorf("top-k 1 %v, greedy %v", k1.Tokens, g.Tokens)
	}
	if len(a.Text) > 4 {
		stop := a.Text[2:4]
		s := run(Options{Temp: 1, Seed: 7, Stop: []string{stop}})
		if !strings.HasPrefix(s.StopReason, "stop") || strings.Contains(s.Text, stop) || !strings.HasPrefix(a.Text, s.Text) {
			t.Errorf("stop %q: %q (%s), unstopped %q", stop, s.Text, s.StopReason, a.Text)
		}
	}
	for _, o := range []Options{{Temp: -1}, {TopK: -1}, {TopP: 1.5}, {MinP: 1}, {MaxTokens: -2}, {Stop: []string{""}}} {
		o.Model, o.Prompt = m, "x"
		if _, err := Run(context.Background(), o, &bytes.Buffer{}); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
