package verify_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/verify"
)

const td = "../testdata"

// swapGateUp writes a copy of the phi4flash-tiny HF model whose layer's
// fc1 has its [gate | up] halves swapped: a plausible conversion bug.
func swapGateUp(t *testing.T, layer string) string {
	t.Helper()
	src := filepath.Join(td, "phi4flash-tiny", "hf")
	m, err := safetensors.OpenModel(src)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var ts []formats.Tensor
	for _, tn := range m.Tensors {
		if tn.Name == "model.layers."+layer+".mlp.fc1.weight" {
			half := tn.Shape[0] / 2
			tn, err = formats.GatherRows(tn.Name, tn.Shape, []formats.RowRange{{Src: tn, Start: half, Count: half}, {Src: tn, Start: 0, Count: half}})
			if err != nil {
				t.Fatal(err)
			}
		}
		ts = append(ts, tn)
	}
	dir := t.TempDir()
	if _, err := safetensors.WriteModel(dir, ts, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(src, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	return dir
}

func TestCorruptTensorIsLocated(t *testing.T) {
	g, err := verify.ReadGolden(filepath.Join(td, "phi4flash-tiny", "golden-fp32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, layer := range []string{"3", "6"} {
		m, err := model.Open(swapGateUp(t, layer), reference.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, _, err := verify.AgainstGolden(m.Model, g, verify.TolFP32)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != verify.VerdictFail || rep.FirstBadLayer != int(layer[0]-'0') {
			t.Errorf("fc1 halves swapped in block %s: verdict %s, first bad block %d", layer, rep.Verdict, rep.FirstBadLayer)
		}
		err = rep.Err()
		if !errors.Is(err, verify.ErrParity) || !strings.Contains(err.Error(), "first block out of tolerance: "+layer) {
			t.Errorf("error %v does not name block %s", err, layer)
		}
	}
}

func TestReportsAndGoldenRoundTrip(t *testing.T) {
	m, err := model.Open(filepath.Join(td, "sambay-tiny", "hf"), reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g, err := verify.ReadGolden(filepath.Join(td, "sambay-tiny", "golden-fp32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	rep, got, err := verify.AgainstGolden(m.Model, g, verify.TolFP32)
	if err != nil || rep.Verdict != verify.VerdictPass {
		t.Fatalf("sambay-tiny vs its golden: %v %+v", err, rep)
	}
	if rep.Top1Agreement != 1 || rep.KLDMean > 1e-9 || len(rep.Layers) != 8 || rep.Layers[5].Kind != "full-kv" {
		t.Errorf("report %+v", rep)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "go.safetensors")
	if err := verify.WriteGolden(out, got); err != nil {
		t.Fatal(err)
	}
	back, err := verify.ReadGolden(out)
	if err != nil {
		t.Fatal(err)
	}
	again := verify.Compare(back.Logits, got.Logits, len(got.IDs), got.Vocab, back.Hidden, got.Hidden, nil, verify.Tolerance{})
	if again.MaxAbsErr != 0 || len(back.Hidden) != 8 {
		t.Errorf("golden round trip changed values: %+v", again)
	}
	for _, ext := range []string{".md", ".html", ".json"} {
		p := filepath.Join(dir, "r"+ext)
		if err := rep.WriteFile(p); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		switch ext {
		case ".html":
			if !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "full-kv") {
				t.Errorf("html report lacks the plot or the table")
			}
		case ".json":
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"verdict", "max_abs_err", "nmse", "top1_agreement", "kld_mean", "layers"} {
				if _, ok := v[k]; !ok {
					t.Errorf("json report lacks %s", k)
				}
			}
		case ".md":
			if !strings.Contains(string(b), "| 5 | full-kv |") {
				t.Errorf("markdown report:\n%s", b)
			}
		}
	}
	if err := rep.WriteFile(filepath.Join(dir, "r.txt")); err == nil {
		t.Error("unknown report extension accepted")
	}
}

func TestCompareFigures(t *testing.T) {
	want := []float32{0, 1, 2, 3, 3, 2, 1, 0}
	got := []float32{0, 1, 2, 3, 0, 2, 1, 3} // second position: argmax moves
	r := verify.Compare(got, want, 2, 4, nil, nil, nil, verify.Tolerance{Logits: 0.5})
	if r.Top1Agreement != 0.5 || r.MaxAbsErr != 3 || r.Verdict != verify.VerdictFail {
		t.Errorf("%+v", r)
	}
	if k := verify.KL(want[:4], want[:4]); k != 0 {
		t.Errorf("KL(p, p) = %v", k)
	}
	// KL of two two-way distributions against the closed form.
	p, q := []float32{0, 0}, []float32{0, float32(math.Log(3))} // (1/2, 1/2) vs (1/4, 3/4)
	want2 := 0.5*math.Log(0.5/0.25) + 0.5*math.Log(0.5/0.75)
	if k := verify.KL(p, q); math.Abs(k-want2) > 1e-7 {
		t.Errorf("KL = %v, want %v", k, want2)
	}
}

func TestArchScaleImportMatchesRelease(t *testing.T) {
	// verify --against: the ArchScale HEAD import (no k bias) computes the
	// same function as the HF model (with k bias) — softmax is invariant to it.
	out := filepath.Join(t.TempDir(), "canon")
	if _, err := convert.Import(t.Context(), filepath.Join(td, "phi4flash-tiny", "archscale-head.pth"), convert.ImportOptions{
		Output: out, Config: convert.ConfigOptions{ConfigFile: filepath.Join(td, "phi4flash-tiny", "litgpt-config.json")}}); err != nil {
		t.Fatal(err)
	}
	a, err := model.Open(out, reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := model.Open(filepath.Join(td, "phi4flash-tiny", "hf"), reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rep, _, err := verify.AgainstModel(a.Model, b.Model, []int{5, 42, 7, 99, 3, 17, 64, 88, 1, 8}, verify.TolFP32)
	if err != nil || rep.Verdict != verify.VerdictPass {
		t.Errorf("import vs release: %v %+v", err, rep)
	}
}

func TestKLDFile(t *testing.T) {
	m, err := model.Open(filepath.Join(td, "phi4flash-tiny", "hf"), reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	toks := make([]int, 40)
	for i := range toks {
		toks[i] = (i*37 + 5) % 128
	}
	p := filepath.Join(t.TempDir(), "base.kld")
	if err := verify.WriteKLD(p, m.Model, toks, 16); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	fi, _ := f.Stat()
	k, err := verify.ReadKLD(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	if k.NChunk != 2 || k.NCtx != 16 || k.NVocab != 128 || k.Records() != 2*7 {
		t.Fatalf("header %+v, %d records", k, k.Records())
	}
	// The stored log-probabilities match the model's own within the 16-bit step.
	res, _ := m.Run(m.NewState(), toks[:16], reference.Want{AllLogits: true})
	V := 128
	for p := 8; p <= 14; p++ {
		lg := res.Logits[p*V : (p+1)*V]
		var mx float64 = -1e30
		for _, v := range lg {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range lg {
			s += math.Exp(float64(v) - mx)
		}
		tok := toks[p+1]
		want := float64(lg[tok]) - mx - math.Log(s)
		if got := k.LogProb(p-8, tok); math.Abs(got-want) > 1e-3 {
			t.Errorf("position %d: stored log-prob %.5f, model %.5f", p, got, want)
		}
	}
}
