package reference_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

type golden struct {
	ids    []int
	logits []float32 // [T, V]
	hidden [][]float32
}

func readGolden(t *testing.T, path string) golden {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var g golden
	ids, _ := f.Tensor("input_ids")
	b, _ := ids.Bytes()
	for i := 0; i < len(b); i += 8 {
		v := int64(0)
		for k := 7; k >= 0; k-- {
			v = v<<8 | int64(b[i+k])
		}
		g.ids = append(g.ids, int(v))
	}
	lg, _ := f.Tensor("logits")
	g.logits, _ = lg.Float32s()
	for i := 0; ; i++ {
		h, ok := f.Tensor(fmt.Sprintf("hidden.%d", i))
		if !ok {
			break
		}
		v, _ := h.Float32s()
		g.hidden = append(g.hidden, v)
	}
	return g
}

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
			g := readGolden(t, filepath.Join(dir, "golden-"+c.mode.String()+".safetensors"))
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
			res, err := m.Run(m.NewState(), g.ids, reference.Want{AllLogits: true, Hidden: true})
			if err != nil {
				t.Fatal(err)
			}
			scale := maxAbs(g.logits)
			d := maxDiff(res.Logits, g.logits)
			t.Logf("logits max abs err %.3g (%.3g of max |logit| %.3g)", d, d/scale, scale)
			for i := range g.hidden {
				hd := maxDiff(res.Hidden[i], g.hidden[i]) / maxAbs(g.hidden[i])
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
