package verify_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/verify"
)

func TestRunChoosesOneCheck(t *testing.T) {
	hf := filepath.Join("..", "testdata", "sambay-tiny", "hf")
	golden := filepath.Join("..", "testdata", "sambay-tiny", "golden-fp32.safetensors")
	for name, o := range map[string]verify.Options{
		"no check":          {Model: hf, Tokens: []int{1, 2}},
		"two checks":        {Model: hf, Golden: golden, Against: hf},
		"unknown device":    {Model: hf, Device: "tpu", Tokens: []int{1}},
		"decode, no tokens": {Model: hf, Decode: true},
	} {
		if _, err := verify.Run(t.Context(), o); !errors.Is(err, verify.ErrUsage) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	var calls []int
	res, err := verify.Run(t.Context(), verify.Options{Model: hf, Golden: golden, Progress: func(stage string, done, total int) {
		if stage == "model" && total == 8 {
			calls = append(calls, done)
		}
	}})
	if len(calls) != 8 || calls[7] != 8 {
		t.Errorf("progress calls %v, want 1…8 for the 8 blocks", calls)
	}
	if err != nil || res.Report.Err() != nil || res.Report.Verdict != verify.VerdictPass || res.Report.Tolerance != verify.TolFP32 || res.Quality != nil {
		t.Errorf("golden check: %v, %+v", err, res)
	}
	// Decoding has no per-block states: that part is SKIPPED, with the reason.
	res, err = verify.Run(t.Context(), verify.Options{Model: hf, Decode: true, Tokens: []int{1, 2, 3}})
	if err != nil || res.Report.Verdict != verify.VerdictPass || len(res.Report.Skipped) != 1 {
		t.Errorf("decode check: %v, verdict %s, skipped %v", err, res.Report.Verdict, res.Report.Skipped)
	}
}

// TestRunQuantized checks the decisions for a quantized model: compared
// without a threshold (ReportOnly) unless one is given, with the per-tensor
// report, and failed by --max-kld below its measured KL divergence.
func TestRunQuantized(t *testing.T) {
	hf := filepath.Join("..", "testdata", "sambay-tiny", "hf")
	q := filepath.Join(t.TempDir(), "q.gguf")
	if _, err := ggufmodel.Export(t.Context(), hf, ggufmodel.Options{Output: q, Policy: "q4_0"}); err != nil {
		t.Fatal(err)
	}
	o := verify.Options{Model: q, Against: hf, Tokens: []int{5, 42, 7, 99, 3, 17, 64, 88}}
	res, err := verify.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Verdict != verify.VerdictReport || rep.Tolerance != verify.ReportOnly || rep.Err() != nil || len(res.Quality) == 0 || !(rep.KLDMean > 0) {
		t.Fatalf("verdict %s, tolerance %+v, err %v, %d tensors, KL %g", rep.Verdict, rep.Tolerance, rep.Err(), len(res.Quality), rep.KLDMean)
	}
	for _, l := range rep.Layers {
		if l.Verdict != verify.VerdictReport {
			t.Errorf("block %d verdict %s without a threshold", l.Index, l.Verdict)
		}
	}
	for _, c := range []struct {
		limit   float64
		verdict string
	}{{rep.KLDMean / 2, verify.VerdictFail}, {rep.KLDMean * 2, verify.VerdictPass}} {
		o.MaxKLD = &c.limit
		res, err := verify.Run(t.Context(), o)
		if err != nil || res.Report.Verdict != c.verdict || (c.verdict == verify.VerdictFail) != errors.Is(res.Report.Err(), verify.ErrParity) {
			t.Errorf("--max-kld %g with KL %g: %v, verdict %s", c.limit, rep.KLDMean, err, res.Report.Verdict)
		}
	}
	// Only --tol-hidden: the blocks are judged, the logits are not.
	tol := 1e-5
	o.MaxKLD, o.TolHidden = nil, &tol
	res, err = verify.Run(t.Context(), o)
	if err != nil || res.Report.Tolerance.Logits != 0 || res.Report.Tolerance.Hidden != tol || res.Report.Verdict != verify.VerdictFail || res.Report.Layers[0].Verdict == verify.VerdictReport {
		t.Errorf("--tol-hidden alone on a Q4_0 model: %v, %+v, %s", err, res.Report.Tolerance, res.Report.Verdict)
	}
	// Bad thresholds are usage errors.
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		v := bad
		o.TolHidden = &v
		if _, err := verify.Run(t.Context(), o); !errors.Is(err, verify.ErrUsage) {
			t.Errorf("--tol-hidden %v: %v", bad, err)
		}
	}
}

// TestFindPython checks the one-line errors for an interpreter without
// PyTorch and for a PyTorch without CUDA, with stand-in interpreters.
func TestFindPython(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notorch := script("notorch", `echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1`)
	cpu := script("cpu", `printf cpu`)
	gpu := script("gpu", `printf cuda`)
	for _, c := range []struct {
		py   string
		cuda bool
		want string // "" for success
	}{
		{notorch, false, "cannot import torch: ModuleNotFoundError"},
		{cpu, true, "PyTorch at " + cpu + " has no CUDA"},
		{cpu, false, ""},
		{gpu, true, ""},
		{filepath.Join(dir, "missing"), false, "not found"},
	} {
		got, err := verify.FindPython(t.Context(), c.py, c.cuda)
		switch {
		case c.want == "" && (err != nil || got != c.py):
			t.Errorf("%s: %q, %v", c.py, got, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%s: error %v, want one line with %q", c.py, err, c.want)
		}
	}
	// --device cuda with a CPU-only PyTorch stops before running anything.
	hf := filepath.Join("..", "testdata", "sambay-tiny", "hf")
	_, err := verify.Run(t.Context(), verify.Options{Model: hf, Device: "cuda", Tokens: []int{1, 2}, Python: cpu, TorchScript: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "has no CUDA") {
		t.Errorf("cuda with a CPU PyTorch: %v", err)
	}
}
