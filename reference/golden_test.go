package reference_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/verify"
)

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// TestMatchesTorchGoldens runs the Go reference on the goldens written by
// the independent PyTorch reference (reference/torch/sambay_ref.py) and
// compares logits and every block's hidden state.
func TestMatchesTorchGoldens(t *testing.T) {
	for _, c := range []struct {
		model  string
		layout string // "hf", or an ArchScale checkpoint imported first
		mode   reference.Numerics
		tol    float64 // relative to max |logit|
	}{
		{"phi4flash-tiny", "hf", reference.FP32, 1e-5},
		{"sambay-tiny", "hf", reference.FP32, 1e-5},
		{"phi4flash-tiny", "hf", reference.BF16, 2e-2},
		{"sambay-tiny", "hf", reference.BF16, 2e-2},
		{"phi4flash-tiny", "archscale-fused.pth", reference.FP32, 1e-5},
		{"sambay-tiny", "archscale-head.pth", reference.FP32, 1e-5},
	} {
		t.Run(c.model+"/"+c.layout+"/"+c.mode.String(), func(t *testing.T) {
			dir := filepath.Join("..", "testdata", c.model)
			// verify.ReadGolden checks the file (names, dtypes, shapes, token ids) and fails on any error.
			g, err := verify.ReadGolden(filepath.Join(dir, "golden-"+c.mode.String()+".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if len(g.IDs) == 0 || len(g.Hidden) != 8 || len(g.Logits) != len(g.IDs)*g.Vocab {
				t.Fatalf("golden holds %d ids, %d hidden states, %d logits of vocab %d; want 8 blocks", len(g.IDs), len(g.Hidden), len(g.Logits), g.Vocab)
			}
			modelDir := filepath.Join(dir, "hf")
			if c.layout != "hf" {
				modelDir = filepath.Join(t.TempDir(), "canon")
				if _, err := convert.Import(t.Context(), filepath.Join(dir, c.layout), convert.ImportOptions{Output: modelDir,
					Config: convert.ConfigOptions{ConfigFile: filepath.Join(dir, "litgpt-config.json")}}); err != nil {
					t.Fatal(err)
				}
			}
			m, err := model.Open(modelDir, reference.Options{Numerics: c.mode})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			res, err := m.Run(m.NewState(), g.IDs, reference.Want{AllLogits: true, Hidden: true})
			if err != nil {
				t.Fatal(err)
			}
			scale := maxAbs(g.Logits)
			d := maxDiff(res.Logits, g.Logits)
			t.Logf("logits max abs err %.3g (%.3g of max |logit| %.3g)", d, d/scale, scale)
			for i := range g.Hidden {
				hd := maxDiff(res.Hidden[i], g.Hidden[i]) / maxAbs(g.Hidden[i])
				if hd > c.tol*10 {
					t.Errorf("block %d hidden state: relative error %.3g", i, hd)
				}
			}
			if d > c.tol*scale {
				t.Errorf("logits differ by %.3g > %.3g × %.3g", d, c.tol, scale)
			}
		})
	}
}
