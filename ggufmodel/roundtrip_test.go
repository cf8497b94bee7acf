package ggufmodel

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/layout"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// TestRoundTrip writes each testdata model (both norms, with and without
// GMU and differential attention) to an F32 GGUF, reads it back through the
// reader side of the schema, and compares every field: the config (field
// by field), the tokenizer (tokens, types, merges, special ids, flags,
// template) against the source files, and every tensor's values against
// the original (A_log as ssm_a = −exp(A_log), conv1d squeezed).
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"phi4flash-tiny", "sambay-tiny"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(td, name, "hf")
			out := filepath.Join(t.TempDir(), "m.gguf")
			if _, err := Export(t.Context(), src, Options{Output: out, Policy: "f32", Name: name}); err != nil {
				t.Fatal(err)
			}
			orig, err := convert.OpenCanonical(src)
			if err != nil {
				t.Fatal(err)
			}
			defer orig.Close()
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			cfg, err := configFromMetadata(f)
			if err != nil {
				t.Fatal(err)
			}
			want := orig.Config
			gv, wv := reflect.ValueOf(cfg), reflect.ValueOf(want)
			for i := 0; i < gv.NumField(); i++ {
				if w, ok := wv.Field(i).Interface().(float64); ok {
					// The schema stores these keys as FLOAT32 (docs/GGUF.md): they come back as the
					// shortest decimal of the float32 (1e-5 exactly), so equal at float32 precision.
					if g := gv.Field(i).Float(); float32(g) != float32(w) {
						t.Errorf("config %s: read back %v, written %v (as float32 %v)", gv.Type().Field(i).Name, g, w, float32(w))
					}
					continue
				}
				if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
					t.Errorf("config %s: read back %v, written %v", gv.Type().Field(i).Name, gv.Field(i), wv.Field(i))
				}
			}
			if cfg.NormEps != want.NormEps {
				t.Errorf("norm epsilon read back as %v, written %v", cfg.NormEps, want.NormEps)
			}
			if v, _ := f.Get(KeyName); v != name {
				t.Errorf("%s = %v", KeyName, v)
			}

			tok, err := ReadTokenizer(f)
			if err != nil {
				t.Fatal(err)
			}
			wantTok, err := readTokenizer(src, want.VocabSize)
			if err != nil {
				t.Fatal(err)
			}
			if (tok == nil) != (wantTok == nil) {
				t.Fatalf("tokenizer read back %v, source has one: %v", tok != nil, wantTok != nil)
			}
			if tok != nil {
				if !reflect.DeepEqual(tok, wantTok) {
					t.Errorf("tokenizer differs:\n read %+v\n want %+v", summary(tok), summary(wantTok))
				}
				checkTokensAgainstJSON(t, src, tok)
			}

			checkTensors(t, f, orig)
		})
	}
}

func summary(t *Tokenizer) string {
	return fmt.Sprintf("%s/%s %d tokens %d merges special %v bos %v eos %v template %d bytes (%v)",
		t.Model, t.Pre, len(t.Tokens), len(t.Merges), t.Special, t.AddBOS, t.AddEOS, len(t.ChatTemplate), t.HasTemplate)
}

// checkTokensAgainstJSON compares the tokens read back with tokenizer.json
// itself, not with the writer's view of it.
func checkTokensAgainstJSON(t *testing.T, dir string, tok *Tokenizer) {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj struct {
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Merges []any          `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		t.Fatal(err)
	}
	for s, id := range tj.Model.Vocab {
		if tok.Tokens[id] != s || tok.Types[id] != TokenNormal {
			t.Errorf("token %d: read back %q type %d, tokenizer.json %q", id, tok.Tokens[id], tok.Types[id], s)
		}
	}
	if len(tok.Merges) != len(tj.Model.Merges) {
		t.Errorf("%d merges, tokenizer.json has %d", len(tok.Merges), len(tj.Model.Merges))
	}
}

// checkTensors compares every tensor of an F32 GGUF with the original.
func checkTensors(t *testing.T, f *gguf.File, orig *convert.Canonical) {
	specs := orig.Config.Tensors()
	if len(f.Tensors) != len(specs) {
		t.Errorf("%d tensors, the model has %d", len(f.Tensors), len(specs))
	}
	for _, s := range specs {
		name := layout.Name(s.Kind.GGUF, s.Layer)
		ti, ok := f.Tensor(name)
		if !ok {
			t.Errorf("%s (%s) missing", name, s.Name)
			continue
		}
		if n, _ := formats.NumElements(s.Shape); ti.NumElements() != n || ti.Dims[0] != uint64(s.Shape[len(s.Shape)-1]) {
			t.Errorf("%s: dims %v for %s", name, ti.Dims, formats.ShapeString(s.Shape))
		}
		b, err := f.Data(ti)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, ti.NumElements())
		quant.DequantizeRow(ti.Type, got, b)
		ot, _ := orig.Model.Tensor(s.Name)
		x, err := ot.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			w := v
			if s.Kind.InGGUF == layout.NegExp {
				w = negExp(v)
			}
			if got[i] != w {
				t.Errorf("%s element %d: %v, want %v", name, i, got[i], w)
				break
			}
		}
	}
}

// negExp is ssm_a's value for an A_log element: −exp computed in float64,
// rounded once to float32 (docs/GGUF.md §Tensors).
func negExp(v float32) float32 { return float32(-math.Exp(float64(v))) }

// TestActivationPath: Q4_0, Q5_0, Q8_0 and K-quant GGUF matrices
// multiply through a quantized activation by default (llama.cpp's CPU
// numerics) and by widened rows with ExactDot. The two differ, by a
// rounding of the size of the weights' own: at most twice the exact path's
// distance from the bf16 original (a wrong scale, sign or block would be
// far beyond). Q8_0 on the tiny test model; the Q4_0, Q5_0, Q4_K_M (Q4_K
// and Q6_K rows) and Q5_K_M mixes and pure Q2_K and Q3_K on a random model
// wide enough for K-quants.
func TestActivationPath(t *testing.T) {
	wide := filepath.Join(t.TempDir(), "wide")
	writeWideModel(t, wide)
	for _, c := range []struct{ src, policy string }{
		{filepath.Join(td, "phi4flash-tiny", "hf"), "q8_0"},
		{wide, "q4_k_m"},
		{wide, "q5_k_m"},
		{wide, "q4_0"},
		{wide, "q5_0"},
		{wide, "pure q2_k"},
		{wide, "pure q3_k"},
	} {
		checkActivationPath(t, c.src, c.policy)
	}
}

// writeWideModel writes a random Phi4Flash-style canonical model with
// E = 256, rows long enough for K-quants.
func writeWideModel(t *testing.T, dir string) {
	c := reference.Config{NLayer: 4, NEmbd: 256, NHead: 4, NKVHead: 2, HeadDim: 64, Intermediate: 512, VocabSize: 512,
		Window: 16, DState: 16, DConv: 4, Expand: 2, DtRank: 16, Norm: reference.LayerNorm, NormEps: 1e-5, DiffAttn: true,
		QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, MaxPosition: 4096, LogitScale: 1, AttnScale: 0.125}
	testmodel.WriteRandom(t, dir, c, convert.HFConfigJSON(&c, nil, nil))
}

func checkActivationPath(t *testing.T, src, policy string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m.gguf")
	opts := Options{Output: out, Policy: policy}
	if typ, ok := strings.CutPrefix(policy, "pure "); ok {
		opts = Options{Output: out, Pure: true, PureType: map[string]ggml.Type{"q2_k": ggml.TypeQ2_K, "q3_k": ggml.TypeQ3_K}[typ]}
	}
	res, err := Export(t.Context(), src, opts)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, x := range res.Tensors {
		types[x.Type] = true
	}
	tokens := []int{5, 42, 7, 99, 3, 17, 64, 88, 1, 8, 33, 77}
	run := func(m *reference.Model) []float32 {
		r, err := m.Run(m.NewState(), tokens, reference.Want{AllLogits: true})
		if err != nil {
			t.Fatal(err)
		}
		return r.Logits
	}
	logits := func(exact bool) []float32 {
		m, f, err := Load(out, reference.Options{ExactDot: exact})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return run(m)
	}
	c, err := convert.OpenCanonical(src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m0, err := reference.Load(c.Config, c.Tensor, reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	orig, fast, exact := run(m0), logits(false), logits(true)
	dq, _ := testmodel.MaxDiff(exact, orig)
	da, differ := testmodel.MaxDiff(fast, exact)
	if differ == 0 {
		t.Errorf("%s: the activation path gave the exact path's logits bit for bit: it was not used", policy)
	}
	if da > 2*dq {
		t.Errorf("%s: max |Δlogit| activation path vs exact %.4g; exact vs bf16 %.4g", policy, da, dq)
	}
	t.Logf("%s (%v): %d of %d logits differ; max |Δ| activation path vs exact %.3g, exact vs bf16 %.3g", policy, types, differ, len(fast), da, dq)
}
