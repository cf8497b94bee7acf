package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"sambay-conv"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

const td = "../../testdata"

func TestHelpOnEveryCommand(t *testing.T) {
	hf := filepath.Join(td, "sambay-tiny", "hf")
	for _, cmd := range [][]string{{"--help"}, {"import", "--help"}, {"inspect", "--help"}, {"pipeline", "--help"}, {"verify", "--help"}, {"quant", "--help"},
		{"quant", hf, "--help"}, {"verify", hf, "--golden", "x", "-h"}, {"import", "src.pth", "-o", "out", "--help"},
		{"batch", "--help"}, {"batch", "run", "--help"}, {"batch", "run", "jobs.yaml", "--shard", "0/2", "--help"}, {"batch", "merge", "out", "-h"}} {
		code, out, _ := runCLI(t, cmd...)
		if code != 0 || !strings.Contains(out, "USAGE") {
			t.Errorf("%v: exit %d, output %q", cmd, code, out)
		}
	}
}

func TestHelpShowsNoFalseDefaults(t *testing.T) {
	for _, cmd := range []string{"import", "verify", "quant", "pipeline", "inspect", "generate"} {
		_, out, _ := runCLI(t, cmd, "--help")
		for _, line := range strings.Split(out, "\n") {
			if strings.Count(line, "(default") > 1 || strings.Contains(line, "--mup-d0") && strings.Contains(line, "(default: 0)") {
				t.Errorf("%s --help: %q", cmd, line)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	if code != 0 || !strings.Contains(out, "0.1.0") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: exit %d %q", code, out)
	}
}

// TestInterruptExitCode runs a command whose context is already cancelled,
// as Ctrl-C leaves it: exit 130, the shells' code for SIGINT.
func TestInterruptExitCode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"sambay-conv", "import", filepath.Join(td, "sambay-tiny", "hf"), "-o", filepath.Join(t.TempDir(), "x")}, &out, &errb)
	if code != exitInterrupted {
		t.Errorf("cancelled import: exit %d (%s), want 130", code, errb.String())
	}
}

func TestPipelineTargetsCheckedFirst(t *testing.T) {
	out := filepath.Join(t.TempDir(), "p")
	for _, tg := range []string{"gguf:q4_k_s", "mlx:7", "mlx:4:48"} {
		if code, _, _ := runCLI(t, "pipeline", "-o", out, "--targets", tg); code != exitUsage {
			t.Errorf("--targets %s: exit %d, want 2", tg, code)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("--targets %s: the pipeline ran (%s exists)", tg, out)
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"nosuchcommand"}, exitUsage},
		{[]string{"import"}, exitUsage},
		{[]string{"import", filepath.Join(td, "phi4flash-tiny", "hf")}, exitUsage}, // no -o
		{[]string{"import", "--no-such-flag", "x"}, exitUsage},
		{[]string{"quant", "/no/such/model", "--type", "q9_9", "-o", "x.gguf"}, exitUsage}, // flags are checked before the input
		{[]string{"quant", "/no/such/model", "--to", "mlx", "--bits", "7", "-o", "x"}, exitUsage},
		{[]string{"quant", "/no/such/model", "--type", "q8_0", "-o", "x.gguf"}, exitFailure},
		{[]string{"import", "-o", "x", "--dtype", "int4", "y"}, exitUsage},
		{[]string{"inspect", filepath.Join(td, "does-not-exist")}, exitFailure},
	} {
		if code, _, stderr := runCLI(t, c.args...); code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, stderr)
		}
	}
}

func TestImportFlagsAfterArguments(t *testing.T) {
	out := filepath.Join(t.TempDir(), "o")
	src := filepath.Join(td, "sambay-tiny", "archscale-fused.pth")
	code, stdout, stderr := runCLI(t, "import", src, "-o", out, "--config", filepath.Join(td, "sambay-tiny", "litgpt-config.json"), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if res["tensor_count"] != float64(98) || res["hf_compatible"] != false {
		t.Errorf("json: tensor_count %v hf_compatible %v", res["tensor_count"], res["hf_compatible"])
	}
	// Errors with --json are JSON on stderr, exit 1.
	code, _, stderr = runCLI(t, "import", src, "-o", filepath.Join(t.TempDir(), "p"), "--json")
	var e map[string]any
	if code != exitFailure || json.Unmarshal([]byte(stderr), &e) != nil || !strings.Contains(e["error"].(string), "n_embd") {
		t.Errorf("json error: exit %d, stderr %q", code, stderr)
	}
}

func TestInspect(t *testing.T) {
	code, out, stderr := runCLI(t, "inspect", filepath.Join(td, "phi4flash-tiny", "hf-sharded"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"hf-safetensors", "100000 parameters", "memory source", "KV source", "full-kv", "gmu", "cross", "BF16"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "inspect", "--json", filepath.Join(td, "sambay-tiny", "archscale-head.pth"))
	var r map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("inspect --json: exit %d %s", code, out)
	}
	if r["config_error"] == nil || r["iter_num"] != float64(1000) {
		t.Errorf("undecidable config should be reported, not fatal: %v", r["config_error"])
	}
}

func TestPipelineOnBundledExample(t *testing.T) {
	dir := t.TempDir()
	// -short (the race pass): two chunks of the held-out text and short
	// samples; the full run checks the figures on all of it.
	var short []string
	if testing.Short() {
		short = []string{"--chunks", "2", "--sample-tokens", "8"}
	}
	code, out, stderr := runCLI(t, append([]string{"pipeline", "-o", filepath.Join(dir, "out")}, short...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "116 tensors") || !strings.Contains(out, "Phi4Flash-compatible: true") || !strings.Contains(out, "PASS") {
		t.Errorf("pipeline output:\n%s", out)
	}
	for _, f := range []string{"report.html", "report.md", "report.json", "model-q8_0.gguf", "model-q4_k_m.gguf", "mlx-4bit-g64/config.json"} {
		if _, err := os.Stat(filepath.Join(dir, "out", f)); err != nil {
			t.Error(err)
		}
	}
	for _, want := range []string{"gguf:q8_0", "gguf:q4_k_m", "mlx:4"} {
		if !strings.Contains(out, want) {
			t.Errorf("pipeline output lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "canonical", "manifest.json")); err != nil {
		t.Error(err)
	}
	for _, want := range []string{"== perplexity on heldout.go.txt", "== samples: greedy continuations of \"func main() {\"", "-- gguf:q4_k_m\nfunc main() {"} {
		if !strings.Contains(out, want) {
			t.Errorf("pipeline output lacks %q", want)
		}
	}
	if !testing.Short() {
		checkExampleFigures(t, filepath.Join(dir, "out", "report.json"))
	}
	// The GGUF file alone carries its tokenizer and chat template.
	alone := filepath.Join(t.TempDir(), "m.gguf")
	b, _ := os.ReadFile(filepath.Join(dir, "out", "model-q4_k_m.gguf"))
	os.WriteFile(alone, b, 0o644)
	for _, args := range [][]string{{"--prompt", "func main() {"}, {"--chat", "--prompt", "Write a Go function."}} {
		code, gout, stderr := runCLI(t, append([]string{"generate", alone, "-n", "8", "--json"}, args...)...)
		var r struct {
			Prompt string `json:"prompt"`
			Tokens []int  `json:"tokens"`
		}
		if code != 0 || json.Unmarshal([]byte(gout), &r) != nil || len(r.Tokens) == 0 {
			t.Errorf("generate %v on the GGUF file alone: exit %d %s %s", args, code, gout, stderr)
		}
		if args[0] == "--chat" && r.Prompt != "<|user|>Write a Go function.<|end|><|assistant|>" {
			t.Errorf("chat prompt from the GGUF's template: %q", r.Prompt)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "out", "report.md"))
	for _, want := range []string{"the bundled example", "generated 20", "0.1.0", "## Legend", "lower is better", "need a runtime that implements SambaY", "model-q8_0.gguf",
		"## Perplexity on text", "## Samples", "### gguf:q8_0 (", "func main() {"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(string(md), "sambay-example-") {
		t.Error("report.md names the example's temporary folder")
	}
	// A second run into the same folder is refused without --force; with
	// it, the pipeline replaces its own outputs and keeps the user's files.
	out1 := filepath.Join(dir, "out")
	before, _ := os.ReadFile(filepath.Join(out1, "model-q8_0.gguf"))
	if code, _, stderr := runCLI(t, "pipeline", "-o", out1); code != exitFailure || !strings.Contains(stderr, "--force") {
		t.Errorf("second run without --force: exit %d %s", code, stderr)
	}
	notes := filepath.Join(out1, "notes.txt")
	os.WriteFile(notes, []byte("mine"), 0o644)
	// (Q8_0 only: the one output compared below.)
	if code, _, stderr := runCLI(t, append([]string{"pipeline", "-o", out1, "--force", "--targets", "gguf:q8_0"}, short...)...); code != 0 {
		t.Errorf("second run with --force: exit %d %s", code, stderr)
	}
	if b, err := os.ReadFile(notes); err != nil || string(b) != "mine" {
		t.Errorf("user file after --force: %q, %v", b, err)
	}
	if after, _ := os.ReadFile(filepath.Join(out1, "model-q8_0.gguf")); !bytes.Equal(before, after) || len(after) == 0 {
		t.Error("the rerun wrote a different Q8_0 file")
	}
	// A user file inside the pipeline's canonical folder stops --force there.
	os.WriteFile(filepath.Join(out1, "canonical", "mine.txt"), []byte("x"), 0o644)
	if code, _, stderr := runCLI(t, "pipeline", "-o", out1, "--force"); code != exitFailure || !strings.Contains(stderr, "mine.txt") {
		t.Errorf("user file in canonical/: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out1, "canonical", "mine.txt")); err != nil {
		t.Error(err)
	}
}

// checkExampleFigures checks the shape a trained model's report has: the
// import's perplexity on held-out text far below a uniform guess, Q8_0
// within 1 % of it, KL ordered Q8_0 < Q4_K_M and Q8_0 < MLX 4-bit, and
// agreement on the most likely token highest for Q8_0.
func checkExampleFigures(t *testing.T, path string) {
	t.Helper()
	var r struct {
		OnText struct {
			PPL float64 `json:"ppl"`
		} `json:"on_text"`
		Targets []struct {
			Target string `json:"target"`
			OnText struct {
				PPLDelta    float64 `json:"ppl_delta"`
				PPLOriginal float64 `json:"ppl_original"`
				KLDMean     float64 `json:"kld_mean"`
				Top1        float64 `json:"top1_agreement"`
			} `json:"on_text"`
		} `json:"targets"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.OnText.PPL < 1 || r.OnText.PPL > 2048/4 {
		t.Errorf("import's held-out perplexity %.3f: not a trained model's (a uniform guess is 2048)", r.OnText.PPL)
	}
	if len(r.Targets) != 3 {
		t.Fatalf("%d targets", len(r.Targets))
	}
	q8, q4, mlx := r.Targets[0].OnText, r.Targets[1].OnText, r.Targets[2].OnText
	if d := math.Abs(q8.PPLDelta / q8.PPLOriginal); d > 0.01 {
		t.Errorf("Q8_0 changes perplexity by %.2f%%", 100*d)
	}
	if !(q8.KLDMean < q4.KLDMean && q8.KLDMean < mlx.KLDMean) || !(q8.Top1 >= q4.Top1 && q8.Top1 >= mlx.Top1) {
		t.Errorf("KL (top-1) q8_0 %.4g (%.3f), q4_k_m %.4g (%.3f), mlx 4-bit %.4g (%.3f): Q8_0 should be closest", q8.KLDMean, q8.Top1, q4.KLDMean, q4.Top1, mlx.KLDMean, mlx.Top1)
	}
}

// TestOverwriteRule: every command refuses an existing output without
// --force, and replaces it with --force.
func TestOverwriteRule(t *testing.T) {
	hf := filepath.Join(td, "sambay-tiny", "hf")
	dir := t.TempDir()
	g := filepath.Join(dir, "m.gguf")
	golden := filepath.Join(td, "sambay-tiny", "golden-fp32.safetensors")
	rep := filepath.Join(dir, "r.md")
	for _, c := range []struct {
		name   string
		path   string
		args   []string
		folder bool
	}{
		{"quant gguf", g, []string{"quant", hf, "--type", "q8_0", "-o", g}, false},
		{"quant generic", filepath.Join(dir, "g.gguf"), []string{"quant", filepath.Join(hf, "model.safetensors"), "--generic", "--type", "q8_0", "-o", filepath.Join(dir, "g.gguf")}, false},
		{"quant mlx", filepath.Join(dir, "mlx"), []string{"quant", hf, "--to", "mlx", "--group-size", "32", "-o", filepath.Join(dir, "mlx")}, true},
		{"import", filepath.Join(dir, "canon"), []string{"import", hf, "-o", filepath.Join(dir, "canon")}, true},
		{"verify report", rep, []string{"verify", hf, "--golden", golden, "--report", rep}, false},
	} {
		if c.folder {
			os.MkdirAll(c.path, 0o755)
			os.WriteFile(filepath.Join(c.path, "config.json"), []byte("{}"), 0o644)
		} else {
			os.WriteFile(c.path, []byte("old"), 0o644)
		}
		if code, _, stderr := runCLI(t, c.args...); code == 0 || !strings.Contains(stderr, "--force") {
			t.Errorf("%s over an existing output: exit %d %s", c.name, code, stderr)
		}
		if code, _, stderr := runCLI(t, append(c.args, "--force")...); code != 0 {
			t.Errorf("%s --force: exit %d %s", c.name, code, stderr)
		}
		if !c.folder {
			if b, _ := os.ReadFile(c.path); string(b) == "old" {
				t.Errorf("%s --force: the old file is still there", c.name)
			}
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"5GB": 5e9, "500MB": 5e8, "2GiB": 2 << 30, "1024": 1024, "1.5kb": 1500} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1GB", "0", "NaN", "NaNGB", "InfMB", "1e400", "5XB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestVerifyCommand(t *testing.T) {
	hf := filepath.Join(td, "phi4flash-tiny", "hf")
	golden := filepath.Join(td, "phi4flash-tiny", "golden-fp32.safetensors")
	report := filepath.Join(t.TempDir(), "r.md")
	logits := filepath.Join(t.TempDir(), "go.safetensors")
	code, out, stderr := runCLI(t, "verify", hf, "--golden", golden, "--json", "--report", report, "--logits-out", logits)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil || r["verdict"] != "PASS" {
		t.Fatalf("json %v: %s", err, out)
	}
	for _, p := range []string{report, logits} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	// The Go logits written out verify against themselves exactly.
	if code, _, stderr := runCLI(t, "verify", hf, "--golden", logits, "--tol-logits", "1e-300", "--tol-hidden", "1e-300"); code != 0 {
		t.Errorf("self-check: exit %d %s", code, stderr)
	}
	// A bf16 golden checked in fp32 mode is out of tolerance: exit 1.
	if code, _, _ := runCLI(t, "verify", hf, "--golden", filepath.Join(td, "phi4flash-tiny", "golden-bf16.safetensors")); code != exitFailure {
		t.Errorf("fp32 run vs bf16 golden: exit %d, want 1", code)
	}
	if code, out, _ := runCLI(t, "verify", hf, "--decode", "--tokens", "1,2,3,4,5,6,7,8"); code != 0 || !strings.Contains(out, "PASS") {
		t.Errorf("--decode: exit %d %s", code, out)
	}
	if code, _, _ := runCLI(t, "verify", hf, "--against", filepath.Join(td, "phi4flash-tiny", "hf-sharded"), "--tokens", "3,4,5"); code != 0 {
		t.Errorf("--against: exit %d", code)
	}
	for _, bad := range [][]string{{"verify", hf}, {"verify", hf, "--decode"}, {"verify", hf, "--golden", golden, "--mode", "fp16"}, {"verify", hf, "--against", hf}} {
		if code, _, _ := runCLI(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// checkKLD verifies a quantized model against its original with --json and
// checks the figures an 8-bit quantization must reach on the tiny model: a
// mean KL divergence above 0 (it is quantized) and below max, top-1
// agreement of at least 80%, and an NMSE for every quantized tensor; then
// that --max-kld judges by the measured value (exit 1 below it, 0 above).
func checkKLD(t *testing.T, what, q, orig string, max float64) {
	t.Helper()
	toks := "5,42,7,99,3,17,64,88,1,8,33,77,12,60,2,90"
	code, out, stderr := runCLI(t, "verify", q, "--against", orig, "--tokens", toks, "--json")
	if code != 0 {
		t.Fatalf("%s: verify --json: exit %d %s", what, code, stderr)
	}
	var res struct {
		Parity struct {
			KLD  float64 `json:"kld_mean"`
			Top1 float64 `json:"top1_agreement"`
		} `json:"parity"`
		Tensors []struct {
			Name string  `json:"name"`
			Type string  `json:"type"`
			NMSE float64 `json:"nmse"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out)
	}
	if k := res.Parity.KLD; !(k > 0 && k < max) || res.Parity.Top1 < 0.8 {
		t.Errorf("%s: KL mean %g (want in (0, %g)), top-1 %.3f (want ≥ 0.8)", what, k, max, res.Parity.Top1)
	}
	if len(res.Tensors) == 0 {
		t.Errorf("%s: no per-tensor quantization report", what)
	}
	quantized := 0
	for _, q := range res.Tensors {
		switch {
		case q.Type == "F16" || q.Type == "BF16": // shape fallbacks and overrides: bf16 weights convert exactly
			if q.NMSE > 1e-6 {
				t.Errorf("%s: %s tensor %s NMSE %g", what, q.Type, q.Name, q.NMSE)
			}
		case !(q.NMSE > 0 && q.NMSE < 1e-3):
			t.Errorf("%s: %s tensor %s NMSE %g, want in (0, 1e-3) at 8 bits", what, q.Type, q.Name, q.NMSE)
		default:
			quantized++
		}
	}
	if quantized == 0 {
		t.Errorf("%s: no quantized tensor in the report", what)
	}
	k := res.Parity.KLD
	for _, c := range []struct {
		limit float64
		code  int
	}{{k * 0.5, exitFailure}, {k * 2, exitOK}} {
		if got, _, _ := runCLI(t, "verify", q, "--against", orig, "--tokens", toks, "--max-kld", fmt.Sprint(c.limit)); got != c.code {
			t.Errorf("%s: --max-kld %g with KL %g: exit %d, want %d", what, c.limit, k, got, c.code)
		}
	}
}

func TestQuantCommand(t *testing.T) {
	hf := filepath.Join(td, "sambay-tiny", "hf")
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "quant", hf, "--type", "q4_k_m", "--dry-run")
	if code != 0 || !strings.Contains(out, "bits per weight") || !strings.Contains(out, "blk.0.ssm_in.weight") {
		t.Fatalf("dry run: exit %d %s %s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.gguf")); err == nil {
		t.Error("dry run wrote a file")
	}
	g := filepath.Join(dir, "m.gguf")
	if code, _, stderr := runCLI(t, "quant", hf, "-o", g, "--pure", "--type", "q8_0", "--tensor-type", "ffn_up=f16"); code != 0 {
		t.Fatalf("pure: exit %d %s", code, stderr)
	}
	if code, out, _ := runCLI(t, "inspect", g); code != 0 || !strings.Contains(out, "format:     gguf") || !strings.Contains(out, "Q8_0") || !strings.Contains(out, "KV source") {
		t.Errorf("inspect gguf: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "verify", g, "--against", hf, "--tokens", "1,2,3,4,5,6,7,8")
	if code != 0 || !strings.Contains(out, "perplexity") || !strings.Contains(out, "blk.0.ssm_in.weight") {
		t.Errorf("verify gguf: exit %d %s", code, out)
	}
	checkKLD(t, "Q8_0 GGUF", g, hf, 0.05)
	m := filepath.Join(dir, "mlx")
	if code, _, stderr := runCLI(t, "quant", hf, "--to", "mlx", "--bits", "8", "--group-size", "32", "-o", m); code != 0 {
		t.Fatalf("mlx: exit %d %s", code, stderr)
	}
	checkKLD(t, "MLX 8-bit", m, hf, 0.05)
	for _, bad := range [][]string{{"quant", hf, "--type", "q9_9", "-o", g}, {"quant", hf, "--to", "onnx", "-o", g}, {"quant", hf, "--to", "mlx", "--bits", "7", "-o", m}, {"quant", hf}} {
		if code, _, _ := runCLI(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// TestWrongInputKind gives each command an input of another kind: the error
// says what the input is and which command takes it.
func TestWrongInputKind(t *testing.T) {
	dir := t.TempDir()
	hf := filepath.Join(td, "sambay-tiny", "hf")
	g := filepath.Join(dir, "model.gguf")
	if code, _, stderr := runCLI(t, "quant", hf, "--type", "q8_0", "-o", g); code != 0 {
		t.Fatal(stderr)
	}
	mlx := filepath.Join(dir, "mlx")
	if code, _, stderr := runCLI(t, "quant", hf, "--to", "mlx", "--group-size", "32", "-o", mlx); code != 0 {
		t.Fatal(stderr)
	}
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("not a model\n"), 0o644)
	pth := filepath.Join(td, "sambay-tiny", "archscale-head.pth")
	st := filepath.Join(hf, "model.safetensors")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"import", notes, "-o", filepath.Join(dir, "x")}, []string{"notes.txt is neither", "import reads checkpoints"}},
		{[]string{"import", g, "-o", filepath.Join(dir, "x")}, []string{"is a GGUF file", "sambay-conv inspect " + g}},
		{[]string{"import", mlx, "-o", filepath.Join(dir, "x")}, []string{"is an MLX folder", "sambay-conv inspect " + mlx}},
		{[]string{"quant", pth, "-o", filepath.Join(dir, "y.gguf")}, []string{"is a torch.save checkpoint", "sambay-conv import " + pth}},
		{[]string{"quant", st, "--type", "q8_0", "-o", filepath.Join(dir, "y.gguf")}, []string{"single safetensors file", "quant reads a canonical model folder"}},
		{[]string{"quant", notes, "--generic", "--type", "q8_0", "-o", filepath.Join(dir, "y.gguf")}, []string{"quant --generic reads safetensors"}},
		{[]string{"quant", g, "--to", "mlx", "-o", filepath.Join(dir, "z")}, []string{"is a GGUF file"}},
		{[]string{"verify", pth, "--decode", "--tokens", "1,2"}, []string{"torch.save checkpoint", "sambay-conv import " + pth}},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitFailure {
			t.Errorf("%v: exit %d", c.args[:2], code)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: %q lacks %q", c.args[:2], stderr, w)
			}
		}
	}
	for _, p := range []string{filepath.Join(dir, "x"), filepath.Join(dir, "y.gguf"), filepath.Join(dir, "z")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
}

// TestQuantOutputLevels: a short summary by default, every tensor with
// --verbose, nothing with --quiet; sizes in human units.
func TestQuantOutputLevels(t *testing.T) {
	hf := filepath.Join(td, "sambay-tiny", "hf")
	dir := t.TempDir()
	_, out, _ := runCLI(t, "quant", hf, "--type", "q8_0", "-o", filepath.Join(dir, "a.gguf"))
	if n := strings.Count(out, "\n"); n > 4 || !strings.Contains(out, " kB") || strings.Contains(out, "blk.0.ssm_in.weight") {
		t.Errorf("default output (%d lines):\n%s", n, out)
	}
	_, out, _ = runCLI(t, "quant", hf, "--type", "q8_0", "-o", filepath.Join(dir, "b.gguf"), "--verbose")
	if !strings.Contains(out, "blk.0.ssm_in.weight") {
		t.Errorf("--verbose lacks the tensors:\n%s", out)
	}
	// The NMSE is measured for --verbose and --json (only they print it).
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "blk.0.ssm_in.weight" {
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err != nil || !(v > 0 && v < 1e-3) {
				t.Errorf("--verbose NMSE of %q: %v %v", line, v, err)
			}
		}
	}
	_, out, _ = runCLI(t, "quant", hf, "--type", "q8_0", "-o", filepath.Join(dir, "j.gguf"), "--json")
	var res struct {
		Tensors []struct {
			Name string  `json:"name"`
			Type string  `json:"type"`
			NMSE float64 `json:"nmse"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Tensors) == 0 {
		t.Fatalf("--json: %v", err)
	}
	for _, tn := range res.Tensors {
		if tn.Type == "Q8_0" && !(tn.NMSE > 0 && tn.NMSE < 1e-3) {
			t.Errorf("--json: %s NMSE %v", tn.Name, tn.NMSE)
		}
	}
	code, out, _ := runCLI(t, "quant", hf, "--type", "q8_0", "-o", filepath.Join(dir, "c.gguf"), "--quiet")
	if code != 0 || out != "" {
		t.Errorf("--quiet: exit %d, %q", code, out)
	}
	_, out, _ = runCLI(t, "quant", hf, "--to", "mlx", "--group-size", "32", "-o", filepath.Join(dir, "m"))
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, "modules quantized") {
		t.Errorf("mlx default output:\n%s", out)
	}
	_, out, _ = runCLI(t, "quant", hf, "--to", "mlx", "--group-size", "32", "-o", filepath.Join(dir, "m2"), "--verbose")
	nq := 0
	for _, line := range strings.Split(out, "\n") {
		if _, v, ok := strings.Cut(line, " nmse "); ok {
			nq++
			if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || !(x > 0 && x < 0.05) {
				t.Errorf("mlx --verbose NMSE of %q: %v %v", line, x, err)
			}
		}
	}
	if nq == 0 {
		t.Errorf("mlx --verbose printed no NMSE:\n%s", out)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1 kB", 206400: "206 kB", 2_430_230_016: "2.43 GB", 7_706_608_640: "7.71 GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestQuantizedReportFinishes is the regression test of a report that grew
// without bound: the HTML plot of a quantized comparison (no threshold, or
// only --max-kld) used log10(+Inf) as its upper bound and looped for ever.
func TestQuantizedReportFinishes(t *testing.T) {
	hf := filepath.Join(td, "sambay-tiny", "hf")
	dir := t.TempDir()
	g := filepath.Join(dir, "q.gguf")
	if code, _, stderr := runCLI(t, "quant", hf, "--type", "q4_0", "-o", g); code != 0 {
		t.Fatal(stderr)
	}
	toks := "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"
	for i, extra := range [][]string{nil, {"--max-kld", "1"}, {"--max-kld", "1e-9"}} {
		for _, ext := range []string{".html", ".md", ".json"} {
			rep := filepath.Join(dir, fmt.Sprintf("r%d%s", i, ext))
			done := make(chan int, 1)
			go func() {
				code, _, _ := runCLI(t, append([]string{"verify", g, "--against", hf, "--tokens", toks, "--report", rep}, extra...)...)
				done <- code
			}()
			select {
			case code := <-done:
				b, _ := os.ReadFile(rep)
				if len(b) == 0 || len(b) > 1<<20 || (code != 0) != (i == 2) {
					t.Errorf("%v %s: exit %d, report of %d bytes", extra, ext, code, len(b))
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("%v %s: the report did not finish in a minute", extra, ext)
			}
		}
	}
}

func TestQuantGenericMLX(t *testing.T) {
	st := filepath.Join(td, "sambay-tiny", "hf", "model.safetensors")
	out := filepath.Join(t.TempDir(), "mlx")
	code, stdout, stderr := runCLI(t, "quant", st, "--generic", "--to", "mlx", "--bits", "8", "--group-size", "32", "-o", out)
	if code != 0 || !strings.Contains(stdout, "modules quantized") {
		t.Fatalf("exit %d %s %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Error(err)
	}
	if code, _, _ := runCLI(t, "quant", st, "--generic", "--to", "mlx", "--recipe", "mixed_4_6", "-o", out+"2"); code != exitUsage {
		t.Errorf("--generic with a SambaY recipe: exit %d", code)
	}
}

// TestJSONSchemas runs every command with --json and checks the keys its
// README schema promises: one name per concept across commands ("path" for
// the output or input path, "tensor_bytes", "parameters", "tensor_count"),
// and none of the old spellings.
func TestJSONSchemas(t *testing.T) {
	hf := filepath.Join(td, "sambay-tiny", "hf")
	golden := filepath.Join(td, "sambay-tiny", "golden-fp32.safetensors")
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		keys []string
	}{
		{[]string{"import", hf, "-o", filepath.Join(dir, "c")}, []string{"path", "source", "config", "hf_compatible", "tensor_count", "parameters", "tensor_bytes", "files"}},
		{[]string{"inspect", hf}, []string{"path", "format", "layout", "tensor_count", "parameters", "tensor_bytes", "dtypes", "config", "layers"}},
		{[]string{"quant", hf, "--type", "q8_0", "-o", filepath.Join(dir, "q.gguf")}, []string{"path", "policy", "tensors", "tensor_bytes", "file_bytes", "parameters", "bits_per_weight", "type_counts"}},
		{[]string{"quant", hf, "--to", "mlx", "--group-size", "32", "-o", filepath.Join(dir, "m")}, []string{"path", "bits", "group_size", "modules", "tensor_bytes", "parameters", "bits_per_weight"}},
		{[]string{"verify", hf, "--golden", golden}, []string{"verdict", "got", "want", "tokens", "max_abs_err", "nmse", "top1_agreement", "kld_mean", "tolerance", "layers"}},
		{[]string{"verify", filepath.Join(dir, "q.gguf"), "--against", hf, "--tokens", "1,2,3"}, []string{"parity", "tensors"}},
		{[]string{"pipeline", hf, "--targets", "gguf:q8_0", "-o", filepath.Join(dir, "p")}, []string{"import", "result"}},
	} {
		code, out, stderr := runCLI(t, append(c.args, "--json")...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", c.args[:2], code, stderr)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v: %v", c.args[:2], err)
		}
		for _, k := range c.keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%v --json lacks %q", c.args[:2], k)
			}
		}
		for _, old := range []string{"output", "total_size", "bytes", "pass"} {
			if _, ok := m[old]; ok {
				t.Errorf("%v --json has the old key %q", c.args[:2], old)
			}
		}
	}
}

func TestPanicIsInternalError(t *testing.T) {
	var errb bytes.Buffer
	code := guard(&errb, func() int { panic("boom") })
	msg := errb.String()
	if code != exitInternal || !strings.Contains(msg, "internal error") || !strings.Contains(msg, "boom") || strings.Count(msg, "\n") != 1 {
		t.Fatalf("exit %d, %q", code, msg)
	}
	_, log, ok := strings.Cut(strings.TrimSpace(msg), "details in ")
	if !ok {
		t.Fatalf("no crash log named: %q", msg)
	}
	defer os.Remove(log)
	if b, err := os.ReadFile(log); err != nil || !strings.Contains(string(b), "goroutine") {
		t.Errorf("crash log %s: %v", log, err)
	}
	if guard(&errb, func() int { return 7 }) != 7 {
		t.Error("guard changed a normal exit code")
	}
}

// TestBatchFlags: every batch flag's bad values are usage errors (exit 2)
// that name the flag, before any work.
func TestBatchFlags(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "jobs.yaml")
	src, _ := filepath.Abs(filepath.Join(td, "sambay-tiny", "hf"))
	os.WriteFile(job, []byte("output: out\nsources: ["+src+"]\ntargets: [{gguf: q8_0}]\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"batch", "run"}, "one JOBS.yaml"},
		{[]string{"batch", "run", job, "--shard", "3/3"}, "--shard"},
		{[]string{"batch", "run", job, "--shard", "-1/2"}, "--shard"},
		{[]string{"batch", "run", job, "--shard", "NaN/Inf"}, "--shard"},
		{[]string{"batch", "run", job, "--shard", ""}, "--shard"},
		{[]string{"batch", "run", job, "--shards", "0"}, "--shards 0"},
		{[]string{"batch", "run", job, "--shards", "-3"}, "--shards -3"},
		{[]string{"batch", "run", job, "--shards", "4"}, "JOB_COMPLETION_INDEX"},
		{[]string{"batch", "run", job, "--shard", "0/2", "--shards", "2"}, "not both"},
		{[]string{"batch", "run", job, "--workers", "0"}, "--workers 0"},
		{[]string{"batch", "plan", job, "--shards", "0"}, "--shards 0"},
		{[]string{"batch", "slurm", job, "--shards", "-1"}, "--shards -1"},
		{[]string{"batch", "merge"}, "one OUTROOT"},
		{[]string{"batch", "frobnicate"}, "unknown batch command"},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q (want 2 and %q)", c.args, code, errOut, c.want)
		}
	}
	// A bad job file is a failure (exit 1) naming its line; merge of a
	// folder that is no output root says so.
	os.WriteFile(job, []byte("output: out\nsources: ["+src+"]\ntargets: [{gguf: q9_9}]\n"), 0o644)
	if code, _, errOut := runCLI(t, "batch", "plan", job); code != exitFailure || !strings.Contains(errOut, "jobs.yaml:3:") {
		t.Errorf("bad job: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "batch", "merge", dir); code != exitFailure || !strings.Contains(errOut, "not the output root") {
		t.Errorf("merge: exit %d, %q", code, errOut)
	}
	// The slurm script is not written over an existing file without --force.
	os.WriteFile(job, []byte("output: out\nsources: ["+src+"]\ntargets: [{gguf: q8_0}]\n"), 0o644)
	script := filepath.Join(dir, "submit.sh")
	os.WriteFile(script, []byte("mine"), 0o644)
	if code, _, _ := runCLI(t, "batch", "slurm", job, "-o", script); code == 0 {
		t.Error("slurm replaced an existing script without --force")
	}
	if code, _, errOut := runCLI(t, "batch", "slurm", job, "-o", script, "--force"); code != 0 {
		t.Errorf("slurm --force: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(script); !strings.Contains(string(b), "--kill-on-invalid-dep=yes") || !strings.Contains(string(b), "--array=0-0") {
		t.Errorf("script:\n%s", b)
	}
}

// TestVerifyText: perplexity on text for the three formats (the GGUF file
// carries the tokenizer it was written with, the MLX folder a copy), with
// the original's figures through --against; bad flags are usage errors.
func TestVerifyText(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "model")
	os.MkdirAll(m, 0o755)
	cfg := testmodel.TextConfig()
	testmodel.WriteSynthetic(t, m, cfg, convert.HFConfigJSON(&cfg, nil, nil), 0)
	testmodel.WriteTextTokenizer(t, m)
	text := filepath.Join(dir, "text.txt")
	var sb strings.Builder
	for i := 0; sb.Len() < 4000; i++ {
		fmt.Fprintf(&sb, "func f%d(x int) int { return x * %d } // the answer is in the string\n", i, i)
	}
	os.WriteFile(text, []byte(sb.String()), 0o644)
	gg, mlx := filepath.Join(dir, "m.gguf"), filepath.Join(dir, "mlx")
	if code, _, errOut := runCLI(t, "quant", m, "--type", "q8_0", "-o", gg, "--quiet"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := runCLI(t, "quant", m, "--to", "mlx", "--bits", "8", "--group-size", "32", "-o", mlx, "--quiet"); code != 0 {
		t.Fatal(errOut)
	}
	var base float64
	for _, p := range []string{m, gg, mlx} {
		code, out, errOut := runCLI(t, "verify", p, "--text", text, "--ctx", "64", "--chunks", "2", "--against", m, "--json")
		if code != 0 {
			t.Fatalf("%s: %d %s", p, code, errOut)
		}
		var r struct {
			PPL         float64 `json:"ppl"`
			PPLOriginal float64 `json:"ppl_original"`
			KLDMean     float64 `json:"kld_mean"`
			Top1        float64 `json:"top1_agreement"`
			Chunks      int     `json:"chunks"`
			Scored      int     `json:"scored"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Chunks != 2 || r.Scored != 62 || !(r.PPL > 1) {
			t.Errorf("%s: %s", p, out)
		}
		if p == m {
			base = r.PPL
			if r.KLDMean != 0 || r.Top1 != 1 {
				t.Errorf("the original against itself: %s", out)
			}
		} else if r.PPLOriginal != base || !(r.KLDMean > 0) || !(r.KLDMean < 0.5) {
			t.Errorf("%s: original PPL %v (alone %v), KL %v", p, r.PPLOriginal, base, r.KLDMean)
		}
	}
	if code, out, _ := runCLI(t, "verify", gg, "--text", text, "--ctx", "64"); code != 0 || !strings.Contains(out, "PPL = ") {
		t.Errorf("text output: %d %s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--text", text, "--ctx", "2"}, "--ctx 2"},
		{[]string{"--text", text, "--ctx", "-5"}, "--ctx -5"},
		{[]string{"--text", text, "--chunks", "-1"}, "--chunks -1"},
		{[]string{"--text", ""}, "--text needs a file"},
		{[]string{"--text", text, "--golden", "g.safetensors"}, "--golden does not go with --text"},
		{[]string{"--text", text, "--device", "cuda"}, "--device cuda"},
		{[]string{"--text", text, "--mode", "fp8"}, "--mode"},
		{[]string{"--chunks", "3", "--tokens", "1,2"}, "--chunks goes with --text"},
	} {
		code, _, errOut := runCLI(t, append([]string{"verify", m}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q (want 2 and %q)", c.args, code, errOut, c.want)
		}
	}
}

// TestGenerateCommand: text from a GGUF file alone (its embedded
// tokenizer), JSON with speeds, and every bad flag a usage error.
func TestGenerateCommand(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "model")
	os.MkdirAll(m, 0o755)
	cfg := testmodel.TextConfig()
	testmodel.WriteSynthetic(t, m, cfg, convert.HFConfigJSON(&cfg, nil, nil), 0)
	testmodel.WriteTextTokenizer(t, m)
	gg := filepath.Join(dir, "m.gguf")
	if code, _, errOut := runCLI(t, "quant", m, "--type", "q8_0", "-o", gg, "--quiet"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := runCLI(t, "generate", gg, "--prompt", "func main() {", "-n", "8", "--json")
	var r struct {
		Tokens       []int   `json:"tokens"`
		Text         string  `json:"text"`
		DecodePerSec float64 `json:"decode_tokens_per_second"`
		StopReason   string  `json:"stop_reason"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.Tokens) != 8 || !(r.DecodePerSec > 0) || r.StopReason != "length" {
		t.Fatalf("generate --json: %d %s %s", code, out, errOut)
	}
	// --chat renders the turn through the chat template (the release's).
	tc, _ := os.ReadFile(filepath.Join(td, "phi4flash-release", "tokenizer_config.json"))
	os.WriteFile(filepath.Join(m, "tokenizer_config.json"), tc, 0o644)
	var cr struct {
		Prompt string `json:"prompt"`
	}
	code, out, errOut = runCLI(t, "generate", m, "--chat", "--system", "Be brief.", "--prompt", "hi", "-n", "2", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &cr) != nil || cr.Prompt != "<|system|>Be brief.<|end|><|user|>hi<|end|><|assistant|>" {
		t.Errorf("generate --chat: %d %s %s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "generate", m, "--prompt", "func main() {", "-n", "8")
	if code != 0 || !strings.Contains(errOut, "tokens/s") || len(out) == 0 {
		t.Errorf("generate: %d %q %q", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--prompt"},
		{[]string{"--prompt", ""}, "--prompt"},
		{[]string{"--prompt", "x", "-n", "0"}, "-n 0"},
		{[]string{"--prompt", "x", "--temp", "NaN"}, "--temp"},
		{[]string{"--prompt", "x", "--temp", "-Inf"}, "--temp"},
		{[]string{"--prompt", "x", "--temp", "-1"}, "--temp"},
		{[]string{"--prompt", "x", "--top-p", "0"}, "--top-p"},
		{[]string{"--prompt", "x", "--top-p", "1.5"}, "--top-p"},
		{[]string{"--prompt", "x", "--min-p", "1"}, "--min-p"},
		{[]string{"--prompt", "x", "--top-k", "-2"}, "--top-k"},
		{[]string{"--prompt", "x", "--stop", ""}, "--stop"},
		{[]string{"--prompt", "x", "--system", "s"}, "--system goes with --chat"},
	} {
		code, _, errOut := runCLI(t, append([]string{"generate", m}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q (want 2 and %q)", c.args, code, errOut, c.want)
		}
	}
}

// TestPipelineTextFlags: --text, --ctx, --prompt, --sample-tokens and
// --tokenizer values are checked before any work.
func TestPipelineTextFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "o")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--text", ""}, "--text needs a file"},
		{[]string{"--text", "x.txt", "--ctx", "2"}, "--ctx 2"},
		{[]string{"--text", "x.txt", "--ctx", "-1"}, "--ctx -1"},
		{[]string{"--prompt", ""}, "--prompt needs text"},
		{[]string{"--chunks", "-1"}, "--chunks -1"},
		{[]string{"--sample-tokens", "0"}, "--sample-tokens 0"},
		{[]string{"--sample-tokens", "-5"}, "--sample-tokens -5"},
		{[]string{"--sample-tokens", "100000"}, "--sample-tokens 100000"},
		{[]string{"--tokenizer", ""}, "--tokenizer: empty"},
	} {
		code, _, errOut := runCLI(t, append([]string{"pipeline", "-o", out}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q (want 2 and %q)", c.args, code, errOut, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a usage error left an output folder")
	}
}

// TestImportTokenizer: tokenizer files beside an ArchScale checkpoint are
// carried into the canonical folder; --tokenizer DIR takes them from DIR
// instead, and a bad DIR is an error that names it.
func TestImportTokenizer(t *testing.T) {
	ex := filepath.Join(td, "phi4flash-go")
	pth, cfg := filepath.Join(ex, "archscale-head.pth"), filepath.Join(ex, "litgpt-config.json")
	want, _ := os.ReadFile(filepath.Join(ex, "tokenizer.json"))
	dir := t.TempDir()
	out := filepath.Join(dir, "beside")
	if code, _, stderr := runCLI(t, "import", pth, "--config", cfg, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile(filepath.Join(out, "tokenizer.json")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("tokenizer.json beside the checkpoint was not carried: %v", err)
	}
	// The checkpoint alone, the tokenizer named.
	alone := filepath.Join(dir, "alone")
	os.MkdirAll(alone, 0o755)
	b, _ := os.ReadFile(pth)
	os.WriteFile(filepath.Join(alone, "ckpt.pth"), b, 0o644)
	out = filepath.Join(dir, "named")
	if code, _, stderr := runCLI(t, "import", filepath.Join(alone, "ckpt.pth"), "--config", cfg, "--tokenizer", ex, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile(filepath.Join(out, "tokenizer.json")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("--tokenizer: tokenizer.json not carried: %v", err)
	}
	empty := t.TempDir()
	for _, c := range []struct{ dir, want string }{
		{"", "--tokenizer"},
		{filepath.Join(dir, "missing"), "missing: not a folder"},
		{pth, "not a folder"},
		{empty, "no tokenizer.json"},
	} {
		o := filepath.Join(dir, "bad")
		code, _, stderr := runCLI(t, "import", filepath.Join(alone, "ckpt.pth"), "--config", cfg, "--tokenizer", c.dir, "-o", o)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("--tokenizer %q: exit %d %s", c.dir, code, stderr)
		}
		if _, err := os.Stat(o); err == nil {
			t.Errorf("--tokenizer %q: output folder left behind", c.dir)
		}
	}
}

// TestExactDot: on a Q8_0 GGUF, verify measures the activation path by
// default and the widened rows with --exact-dot (different KL, both
// small); generate accepts the flag and decodes either way.
func TestExactDot(t *testing.T) {
	ex, dir := filepath.Join(td, "phi4flash-go"), t.TempDir()
	hf, q := filepath.Join(dir, "canonical"), filepath.Join(dir, "m.gguf")
	if code, _, stderr := runCLI(t, "import", filepath.Join(ex, "archscale-head.pth"), "--config", filepath.Join(ex, "litgpt-config.json"), "-o", hf); code != 0 {
		t.Fatalf("import: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "quant", hf, "--type", "q8_0", "-o", q); code != 0 {
		t.Fatalf("quant: exit %d %s", code, stderr)
	}
	kld := func(extra ...string) float64 {
		code, out, stderr := runCLI(t, append([]string{"verify", q, "--against", hf, "--tokens", "5,42,7,99,3,17,64,88", "--json"}, extra...)...)
		var res struct {
			Parity struct {
				KLD float64 `json:"kld_mean"`
			} `json:"parity"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
			t.Fatalf("verify %v: exit %d %s", extra, code, stderr)
		}
		return res.Parity.KLD
	}
	fast, exact := kld(), kld("--exact-dot")
	if fast == exact || !(fast > 0 && fast < 0.05) || !(exact > 0 && exact < 0.05) {
		t.Errorf("KL mean %g (activation path), %g (--exact-dot): want two different small values", fast, exact)
	}
	for _, extra := range [][]string{nil, {"--exact-dot"}} {
		if code, _, stderr := runCLI(t, append([]string{"generate", q, "--prompt", "func main() {", "-n", "4", "--json"}, extra...)...); code != 0 {
			t.Errorf("generate %v: exit %d %s", extra, code, stderr)
		}
	}
}
