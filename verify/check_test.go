package verify_test

import (
	"errors"
	"path/filepath"
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
	res, err := verify.Run(t.Context(), verify.Options{Model: hf, Golden: golden})
	if err != nil || res.Report.Err() != nil || res.Report.Tolerance != verify.TolFP32 || res.Quality != nil {
		t.Errorf("golden check: %v, %+v", err, res)
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
	if rep.Tolerance != verify.ReportOnly || rep.Err() != nil || len(res.Quality) == 0 || !(rep.KLDMean > 0) {
		t.Fatalf("tolerance %+v, err %v, %d tensors, KL %g", rep.Tolerance, rep.Err(), len(res.Quality), rep.KLDMean)
	}
	lim := rep.KLDMean / 2
	o.MaxKLD = &lim
	if res, err := verify.Run(t.Context(), o); err != nil || !errors.Is(res.Report.Err(), verify.ErrParity) {
		t.Errorf("--max-kld %g with KL %g: %v, %v", lim, rep.KLDMean, err, res.Report.Err())
	}
	tol := 1e-5
	o.MaxKLD, o.TolLogits = nil, &tol
	if res, err := verify.Run(t.Context(), o); err != nil || res.Report.Tolerance.Logits != tol || res.Report.Err() == nil {
		t.Errorf("--tol-logits on a Q4_0 model: %v, %+v", err, res.Report.Tolerance)
	}
}
