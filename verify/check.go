package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

// ErrUsage marks options that ask for no check, several checks, or a check
// without what it needs (the command line's fault, not the model's).
var ErrUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// ReportOnly is the tolerance of a comparison that measures without judging
// (a quantized model is expected to differ from its original): every finite
// error passes, and the bound stays finite so that JSON can carry it.
var ReportOnly = Tolerance{Logits: 1e30, Hidden: 1e30}

// Options say which check Run performs and what it writes. Exactly one of
// Golden (without Decode), Against, Decode and Device "cuda" selects the
// check.
type Options struct {
	Model     string // the model under test: canonical folder, MLX folder or GGUF file
	Golden    string // golden file to compare with (also a token source)
	Against   string // another model to compare with
	Decode    bool   // cached decoding against prefill
	Device    string // "" or "cpu"; "cuda": the PyTorch reference on the GPU
	Tokens    []int  // token ids; from Golden when nil
	Reference reference.Options

	// TolLogits and TolHidden override the mode's default tolerance when
	// set. Without them a quantized model is compared with ReportOnly.
	TolLogits, TolHidden *float64
	// MaxKLD, when set, fails a comparison whose mean KL divergence exceeds it.
	MaxKLD *float64

	LogitsOut string // write the Go run as a golden-format file
	KLDOut    string // write llama-perplexity reference logits (.kld)
	KLDCtx    int    // chunk length for KLDOut (default 512)
	Report    string // write the report (.md, .html or .json)

	TorchScript []byte // reference/torch/sambay_ref.py, for Device "cuda"
	Python      string // interpreter for the PyTorch reference (default $SAMBAY_PYTHON, then python3)
}

// A Result is what Run found.
type Result struct {
	Report *Report
	// Quality compares every quantized tensor with the original (a
	// quantized model checked against its original only).
	Quality []model.TensorQuality
}

// Run performs the check opts selects and writes the files it asks for. A
// parity failure is reported in Result.Report (Report.Err), not as an error.
func Run(ctx context.Context, opts Options) (*Result, error) {
	cuda := opts.Device == "cuda"
	if opts.Device != "" && opts.Device != "cpu" && !cuda {
		return nil, usagef("--device %q: want cpu or cuda", opts.Device)
	}
	n := 0
	for _, b := range []bool{opts.Golden != "" && !opts.Decode && !cuda, opts.Against != "", opts.Decode, cuda} {
		if b {
			n++
		}
	}
	if n != 1 {
		return nil, usagef("choose one check: --golden FILE, --against MODEL, --decode or --device cuda")
	}
	ids := opts.Tokens
	var g *Golden
	var err error
	if opts.Golden != "" {
		if g, err = ReadGolden(opts.Golden); err != nil {
			return nil, err
		}
		if ids == nil {
			ids = g.IDs
		}
	}
	if ids == nil {
		return nil, usagef("this check needs token ids: --tokens, --tokens-file or --golden")
	}
	m, err := model.Open(opts.Model, opts.Reference)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	quantized := m.Format != model.KindFolder
	tol := DefaultTolerance(opts.Reference.Numerics)
	if quantized && opts.TolLogits == nil && opts.TolHidden == nil {
		tol = ReportOnly
	}
	if opts.TolLogits != nil {
		tol.Logits = *opts.TolLogits
	}
	if opts.TolHidden != nil {
		tol.Hidden = *opts.TolHidden
	}
	var rep *Report
	var got *Golden
	switch {
	case opts.Decode:
		rep, err = Decode(m.Model, ids, tol)
	case opts.Against != "":
		var o *model.Loaded
		if o, err = model.Open(opts.Against, opts.Reference); err != nil {
			return nil, err
		}
		defer o.Close()
		rep, got, err = AgainstModel(m.Model, o.Model, ids, tol)
		if rep != nil {
			rep.Got, rep.Want = opts.Model, opts.Against
		}
	case cuda:
		if g, err = torchGolden(ctx, opts, ids); err != nil {
			return nil, err
		}
		rep, got, err = AgainstGolden(m.Model, g, tol)
		if rep != nil {
			rep.Got, rep.Want = opts.Model+" (Go, CPU)", "reference/torch/sambay_ref.py on cuda"
		}
	default:
		rep, got, err = AgainstGolden(m.Model, g, tol)
		if rep != nil {
			rep.Got, rep.Want = opts.Model, opts.Golden
		}
	}
	if err != nil {
		return nil, err
	}
	if opts.MaxKLD != nil && rep.KLDMean > *opts.MaxKLD {
		rep.Pass = false
		rep.Notes = append(rep.Notes, fmt.Sprintf("mean KL divergence %.4g exceeds --max-kld %.4g", rep.KLDMean, *opts.MaxKLD))
	}
	res := &Result{Report: rep}
	if quantized && opts.Against != "" {
		if res.Quality, err = model.QuantizationReport(opts.Model, opts.Against); err != nil {
			return nil, err
		}
	}
	if opts.LogitsOut != "" {
		if got == nil {
			if got, err = Forward(m.Model, ids); err != nil {
				return nil, err
			}
		}
		if err := WriteGolden(opts.LogitsOut, got); err != nil {
			return nil, err
		}
	}
	if opts.KLDOut != "" {
		nctx := opts.KLDCtx
		if nctx == 0 {
			nctx = 512
		}
		if err := WriteKLD(opts.KLDOut, m.Model, ids, nctx); err != nil {
			return nil, err
		}
	}
	if opts.Report != "" {
		if err := rep.WriteFile(opts.Report); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// torchGolden runs the PyTorch reference on the GPU and reads its golden back.
func torchGolden(ctx context.Context, opts Options, ids []int) (*Golden, error) {
	if len(opts.TorchScript) == 0 {
		return nil, usagef("--device cuda: no PyTorch reference script given")
	}
	dir, err := os.MkdirTemp("", "sambay-torch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "sambay_ref.py")
	if err := os.WriteFile(script, opts.TorchScript, 0o644); err != nil {
		return nil, err
	}
	toks := make([]string, len(ids))
	for i, v := range ids {
		toks[i] = strconv.Itoa(v)
	}
	py := opts.Python
	if py == "" {
		py = os.Getenv("SAMBAY_PYTHON")
	}
	if py == "" {
		py = "python3"
	}
	out := filepath.Join(dir, "golden.safetensors")
	cmd := exec.CommandContext(ctx, py, script, opts.Model, "--tokens", strings.Join(toks, ","), "--mode", opts.Reference.Numerics.String(), "--device", "cuda", "-o", out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("PyTorch reference on cuda (%s %s): %w", py, script, err)
	}
	return ReadGolden(out)
}
