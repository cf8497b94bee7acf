package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fmt"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/verify"
)

const td = "../testdata"

func TestParseTargets(t *testing.T) {
	ts, err := ParseTargets("gguf:Q8_0, mlx:4,gguf:q4_k_m,mlx:4:32")
	if err != nil || len(ts) != 4 || ts[0].String() != "gguf:q8_0" || ts[1].Bits != 4 || ts[1].Group != 64 || ts[3].String() != "mlx:4:32" {
		t.Errorf("%v %v", ts, err)
	}
	for _, bad := range []string{"onnx:1", "mlx:four", "gguf", "mlx:4:x", "gguf:q4_k_s", "gguf:", "mlx:7", "mlx:4:48", "mlx:-4", "mlx:4:0"} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := FormatTargets(DefaultTargets); got != "gguf:q8_0,gguf:q4_k_m,mlx:4" {
		t.Errorf("default targets %q", got)
	}
	if ts, _ := ParseTargets(""); len(ts) != 0 {
		t.Error("empty targets")
	}
}

func TestRunOnSambayTiny(t *testing.T) {
	dir := filepath.Join(td, "sambay-tiny")
	out := t.TempDir()
	res, err := Run(context.Background(), Options{
		Source: filepath.Join(dir, "archscale-fused.pth"), Output: out, Golden: filepath.Join(dir, "golden-fp32.safetensors"),
		Import:  convert.ImportOptions{Config: convert.ConfigOptions{ConfigFile: filepath.Join(dir, "litgpt-config.json")}},
		Targets: []Target{{Format: "gguf", Policy: "q8_0"}, {Format: "mlx", Bits: 8}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Golden.Verdict != verify.VerdictPass || res.GoldenSkipped != "" || len(res.Targets) != 2 {
		t.Fatalf("golden %+v, %d targets", res.Golden, len(res.Targets))
	}
	for _, tr := range res.Targets {
		p := tr.Parity
		if p.Top1Agreement < 0.9 || !(p.KLDMean > 0 && p.KLDMean < 0.01) || p.Tokens != 64 {
			t.Errorf("%s parity: top-1 %.2f, KL %.4g over %d tokens", tr.Target, p.Top1Agreement, p.KLDMean, p.Tokens)
		}
		if p.Verdict != verify.VerdictReport {
			t.Errorf("%s: verdict %s for a comparison without a threshold", tr.Target, p.Verdict)
		}
		if len(tr.Tensors) == 0 || !(tr.BitsPerWeight > 8 && tr.BitsPerWeight < 16) {
			t.Errorf("%s: %d tensors reported, %.3f bits per weight", tr.Target, len(tr.Tensors), tr.BitsPerWeight)
		}
		if _, err := os.Stat(tr.Path); err != nil {
			t.Errorf("%s: %v", tr.Target, err)
		}
	}
	// The MLX target: 8-bit modules where the group (64) divides the input width, the rest float.
	mlx := res.Targets[1]
	if mlx.Path != filepath.Join(out, "mlx-8bit-g64") {
		t.Errorf("mlx output at %s", mlx.Path)
	}
	for _, q := range mlx.Tensors {
		if q.Type != "affine8-g64" || !(q.NMSE > 0 && q.NMSE < 1e-3) {
			t.Errorf("mlx module %s: %s, NMSE %g", q.Name, q.Type, q.NMSE)
		}
	}
	var j map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(b, &j); err != nil || len(j["targets"].([]any)) != 2 {
		t.Errorf("report.json: %v", err)
	}
	h, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if !strings.Contains(string(h), "<svg") || !strings.Contains(string(h), "gguf:q8_0") {
		t.Error("report.html lacks the plot")
	}
}

func TestRunFailsOnWrongGolden(t *testing.T) {
	// The sambay-tiny weights against the phi4flash-tiny golden: vocabularies
	// agree (128), the function does not.
	dir := filepath.Join(td, "sambay-tiny")
	_, err := Run(context.Background(), Options{Source: filepath.Join(dir, "hf"), Output: t.TempDir(),
		Golden: filepath.Join(td, "phi4flash-tiny", "golden-fp32.safetensors")})
	if err == nil || !errors.Is(err, verify.ErrParity) && !strings.Contains(err.Error(), "hidden states") {
		t.Errorf("wrong golden: %v", err)
	}
}

// TestRunWithoutGolden: the golden check is SKIPPED, with the reason, in the
// result and in every report format.
func TestRunWithoutGolden(t *testing.T) {
	out := t.TempDir()
	res, err := Run(context.Background(), Options{Source: filepath.Join(td, "sambay-tiny", "hf"), Output: filepath.Join(out, "p")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Golden != nil || !strings.Contains(res.GoldenSkipped, "no golden file") {
		t.Fatalf("golden %v, skipped %q", res.Golden, res.GoldenSkipped)
	}
	for _, f := range []string{"report.md", "report.html", "report.json"} {
		b, _ := os.ReadFile(filepath.Join(out, "p", f))
		if !strings.Contains(string(b), "SKIPPED") && !strings.Contains(string(b), "golden_skipped") {
			t.Errorf("%s does not say the golden check was skipped", f)
		}
	}
}

// TestRunOnText: with a text file, the import and every target are scored
// on it with the model's tokenizer, against the import; the report has
// the table. Without one the report says SKIPPED.
func TestRunOnText(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	cfg := testmodel.TextConfig()
	testmodel.WriteSynthetic(t, src, cfg, convert.HFConfigJSON(&cfg, nil, nil), 0)
	testmodel.WriteTextTokenizer(t, src)
	text := filepath.Join(dir, "held-out.go")
	var sb strings.Builder
	for i := 0; sb.Len() < 3000; i++ {
		fmt.Fprintf(&sb, "func f%d(s string) int { return len(s) + %d }\n", i, i)
	}
	os.WriteFile(text, []byte(sb.String()), 0o644)
	targets, _ := ParseTargets("gguf:q8_0,mlx:8:32")
	res, err := Run(context.Background(), Options{Source: src, Output: filepath.Join(dir, "out"), Targets: targets, Text: text, TextCtx: 64})
	if err != nil {
		t.Fatal(err)
	}
	if res.OnText == nil || !(res.OnText.PPL > 1) || res.OnText.Chunks < 2 {
		t.Fatalf("import on text: %+v", res.OnText)
	}
	for _, tr := range res.Targets {
		if y := tr.OnText; y == nil || y.PPLOriginal != res.OnText.PPL || !(y.KLDMean > 0) || y.Scored != res.OnText.Scored {
			t.Errorf("%s on text: %+v", tr.Target, y)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "out", "report.md"))
	if !strings.Contains(string(md), "## Perplexity on text") || !strings.Contains(string(md), "| gguf:q8_0 |") {
		t.Errorf("report:\n%s", md)
	}
	res, err = Run(context.Background(), Options{Source: src, Output: filepath.Join(dir, "out2"), Targets: targets[:1]})
	if err != nil || res.OnText != nil || !strings.Contains(res.TextSkipped, "--text") {
		t.Errorf("without text: %+v, %v", res, err)
	}
}
