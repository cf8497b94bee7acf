package verify

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/tokenizer"
)

// textModel writes a random 320-id model with a byte-level tokenizer and a
// text file of English prose and Go source; it returns both paths.
func textModel(t *testing.T) (string, string) {
	dir := t.TempDir()
	m := filepath.Join(dir, "model")
	os.MkdirAll(m, 0o755)
	cfg := testmodel.TextConfig()
	testmodel.WriteSynthetic(t, m, cfg, convert.HFConfigJSON(&cfg, nil, nil), 0)
	testmodel.WriteTextTokenizer(t, m)
	f, err := os.Open("../testdata/tokenizer/corpus.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, _ := gzip.NewReader(f)
	b := make([]byte, 6000)
	io.ReadFull(zr, b)
	text := filepath.Join(dir, "text.txt")
	os.WriteFile(text, b, 0o644)
	return m, text
}

// TestRunText checks the chunking and scoring against a plain loop over the
// same tokens: chunks of ctx from an empty state, the second half scored.
func TestRunText(t *testing.T) {
	m, text := textModel(t)
	res, err := RunText(context.Background(), TextOptions{Model: m, Text: text, Ctx: 64, Chunks: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks != 3 || res.Scored != 3*31 || res.Tokens < 3*64 {
		t.Fatalf("%+v", res)
	}
	tk, err := tokenizer.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(text)
	ids := tk.Encode(string(b))
	mod, err := model.Open(m, reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	V := mod.Cfg.VocabSize
	var nll, nll2 float64
	n := 0
	for c := 0; c < 3; c++ {
		chunk := ids[c*64 : (c+1)*64]
		r, err := mod.Model.Run(mod.Model.NewState(), chunk, reference.Want{AllLogits: true})
		if err != nil {
			t.Fatal(err)
		}
		for p := 32; p < 63; p++ {
			row := r.Logits[p*V : (p+1)*V]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - mx)
			}
			x := -(float64(row[chunk[p+1]]) - mx - math.Log(s))
			nll, nll2, n = nll+x, nll2+x*x, n+1
		}
	}
	ppl := math.Exp(nll / float64(n))
	se := ppl * math.Sqrt((nll2/float64(n)-(nll/float64(n))*(nll/float64(n)))/float64(n-1))
	if math.Abs(res.PPL-ppl) > 1e-9*ppl || math.Abs(res.PPLStdErr-se) > 1e-6*se {
		t.Errorf("PPL %v ± %v, the plain loop %v ± %v", res.PPL, res.PPLStdErr, ppl, se)
	}
	// The .kld file: MODEL's logits over the scored chunks, readable back.
	kp := filepath.Join(t.TempDir(), "base.kld")
	if _, err := RunText(context.Background(), TextOptions{Model: m, Text: text, Ctx: 64, Chunks: 3, KLDOut: kp}); err != nil {
		t.Fatal(err)
	}
	kf, err := os.Open(kp)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := kf.Stat()
	k, err := ReadKLD(kf, fi.Size())
	kf.Close()
	if err != nil || k.NChunk != 3 || k.NCtx != 64 || len(k.Tokens) != 3*64 || k.Tokens[70] != ids[70] {
		t.Fatalf("kld: %+v, %v", k, err)
	}
	if _, err := RunText(context.Background(), TextOptions{Model: m, Text: text, Ctx: 64, Chunks: 3, KLDOut: kp}); err == nil {
		t.Error("an existing .kld file was replaced without Force")
	}
	// Against itself: no divergence.
	same, err := RunText(context.Background(), TextOptions{Model: m, Against: m, Text: text, Ctx: 64, Chunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	if same.KLDMax != 0 || same.Top1Agreement != 1 || same.PPLDelta != 0 || same.PPLOriginal != same.PPL {
		t.Errorf("against itself: %+v", same)
	}
	noTok := filepath.Join(t.TempDir(), "m")
	os.MkdirAll(noTok, 0o755)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, _ := os.ReadFile(filepath.Join(m, f))
		os.WriteFile(filepath.Join(noTok, f), b, 0o644)
	}
	for _, c := range []struct {
		o    TextOptions
		want string
	}{
		{TextOptions{Model: m, Text: text, Ctx: 2}, "--ctx 2"},
		{TextOptions{Model: m, Text: text, Ctx: 1 << 21}, "--ctx"},
		{TextOptions{Model: m, Text: text, Ctx: 64, Chunks: -1}, "--chunks -1"},
		{TextOptions{Model: m, Text: text, Ctx: 100000}, "fewer than one chunk"},
		{TextOptions{Model: m, Text: filepath.Join(t.TempDir(), "missing.txt")}, "missing.txt"},
		{TextOptions{Model: t.TempDir(), Text: text}, "a tokenizer comes with"},
		{TextOptions{Model: noTok, Text: text}, "no tokenizer.json and no vocab.json"},
	} {
		if _, err := RunText(context.Background(), c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error containing %q", c.o, err, c.want)
		}
	}
}

// TestTextPerplexityMatchesPyTorch: the perplexity of the trained example
// on its held-out Go text, imported from its training checkpoint, is the
// one the PyTorch reference measured with the same chunking
// (reference/torch/train_example.py, heldout-ppl.json).
func TestTextPerplexityMatchesPyTorch(t *testing.T) {
	ex := filepath.Join("..", "testdata", "phi4flash-go")
	canon := filepath.Join(t.TempDir(), "canonical")
	if _, err := convert.Import(context.Background(), filepath.Join(ex, "archscale-head.pth"), convert.ImportOptions{
		Output: canon, Config: convert.ConfigOptions{ConfigFile: filepath.Join(ex, "litgpt-config.json")}}); err != nil {
		t.Fatal(err)
	}
	var want struct {
		PPL       float64 `json:"ppl"`
		PPLStdErr float64 `json:"ppl_stderr"`
		Tokens    int     `json:"tokens"`
		Ctx       int     `json:"ctx"`
		Scored    int     `json:"scored"`
	}
	b, err := os.ReadFile(filepath.Join(ex, "heldout-ppl.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	got, err := RunText(context.Background(), TextOptions{Model: canon, Text: filepath.Join(ex, "heldout.go.txt"), Ctx: want.Ctx})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tokens != want.Tokens || got.Scored != want.Scored {
		t.Errorf("%d tokens, %d scored; PyTorch %d, %d", got.Tokens, got.Scored, want.Tokens, want.Scored)
	}
	// fp32 forward passes with different summation orders: the mean NLL
	// agrees to about 1e-6 relative.
	if d := math.Abs(got.PPL/want.PPL - 1); d > 1e-4 || math.Abs(got.PPLStdErr/want.PPLStdErr-1) > 1e-3 {
		t.Errorf("PPL %.6f ± %.6f, PyTorch %.6f ± %.6f", got.PPL, got.PPLStdErr, want.PPL, want.PPLStdErr)
	}
	t.Logf("PPL %.6f ± %.6f, PyTorch %.6f ± %.6f", got.PPL, got.PPLStdErr, want.PPL, want.PPLStdErr)
}
