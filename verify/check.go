package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
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
// (a quantized model is expected to differ from its original): no
// threshold, so its verdict is REPORT.
var ReportOnly = Tolerance{}

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

	Force       bool   // replace existing LogitsOut, KLDOut and Report files
	ToolVersion string // written into reports
	// Progress, when set, receives each forward pass's blocks done and
	// their count ("model", then "original" for --against).
	Progress    func(stage string, done, total int)
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
	ids, g, err := opts.tokens()
	if err != nil {
		return nil, err
	}
	for _, p := range []string{opts.LogitsOut, opts.KLDOut, opts.Report} {
		if p == "" {
			continue
		}
		if err := atomicfile.CheckFile(p, opts.Force); err != nil {
			return nil, err
		}
		lock, err := atomicfile.Acquire(p) // and a killed run's temporary file goes
		if err != nil {
			return nil, err
		}
		defer lock.Release()
	}
	m, err := model.Open(opts.Model, opts.Reference)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	quantized := m.Format != model.KindFolder
	rep, got, err := opts.compare(ctx, m, ids, g, opts.tolerance(quantized))
	if err != nil {
		return nil, err
	}
	if opts.MaxKLD != nil {
		rep.JudgeKLD(*opts.MaxKLD)
	}
	rep.ToolVersion, rep.Generated = opts.ToolVersion, time.Now().UTC().Format("2006-01-02 15:04 UTC")
	res := &Result{Report: rep}
	if quantized && opts.Against != "" {
		if res.Quality, err = model.QuantizationReport(opts.Model, opts.Against); err != nil {
			return nil, err
		}
	}
	return res, opts.writeFiles(m, ids, got, rep)
}

// tokens checks that exactly one check is asked for and returns its token
// ids (given, or the golden's) and the golden when there is one.
func (opts *Options) tokens() ([]int, *Golden, error) {
	cuda := opts.Device == "cuda"
	if opts.Device != "" && opts.Device != "cpu" && !cuda {
		return nil, nil, usagef("--device %q: want cpu or cuda", opts.Device)
	}
	n := 0
	for _, b := range []bool{opts.Golden != "" && !opts.Decode && !cuda, opts.Against != "", opts.Decode, cuda} {
		if b {
			n++
		}
	}
	if n != 1 {
		return nil, nil, usagef("choose one check: --golden FILE, --against MODEL, --decode or --device cuda")
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"--tol-logits", opts.TolLogits}, {"--tol-hidden", opts.TolHidden}, {"--max-kld", opts.MaxKLD}} {
		if f.v != nil && !(*f.v > 0 && !math.IsInf(*f.v, 0)) { // NaN fails the first test
			return nil, nil, usagef("%s %v: want a finite number above 0", f.name, *f.v)
		}
	}
	if opts.KLDCtx < 0 {
		return nil, nil, usagef("--ctx %d: want a positive chunk length", opts.KLDCtx)
	}
	ids := opts.Tokens
	var g *Golden
	if opts.Golden != "" {
		var err error
		if g, err = ReadGolden(opts.Golden); err != nil {
			return nil, nil, err
		}
		if ids == nil {
			ids = g.IDs
		}
	}
	if ids == nil {
		return nil, nil, usagef("this check needs token ids: --tokens, --tokens-file or --golden")
	}
	return ids, g, nil
}

// tolerance is the mode's default for a full-precision model and no
// threshold for a quantized one (it is expected to differ), with the given
// thresholds applied: on a quantized model only what is given is judged.
func (opts *Options) tolerance(quantized bool) Tolerance {
	tol := DefaultTolerance(opts.Reference.Numerics)
	if quantized {
		tol = ReportOnly
	}
	if opts.TolLogits != nil {
		tol.Logits = *opts.TolLogits
	}
	if opts.TolHidden != nil {
		tol.Hidden = *opts.TolHidden
	}
	return tol
}

// compare runs the selected check and returns its report and, when the
// check ran a prefill of m, that run.
func (opts *Options) compare(ctx context.Context, m *model.Loaded, ids []int, g *Golden, tol Tolerance) (*Report, *Golden, error) {
	switch {
	case opts.Decode:
		rep, err := Decode(m.Model, ids, tol)
		return rep, nil, err
	case opts.Against != "":
		o, err := model.Open(opts.Against, opts.Reference)
		if err != nil {
			return nil, nil, err
		}
		defer o.Close()
		rep, got, err := againstModel(m.Model, o.Model, ids, tol, opts.Progress)
		if rep != nil {
			rep.Got, rep.Want = opts.Model, opts.Against
		}
		return rep, got, err
	case opts.Device == "cuda":
		g, err := torchGolden(ctx, *opts, ids)
		if err != nil {
			return nil, nil, err
		}
		rep, got, err := againstGolden(m.Model, g, tol, opts.Progress)
		if rep != nil {
			rep.Got, rep.Want = opts.Model+" (Go, CPU)", "reference/torch/sambay_ref.py on cuda"
		}
		return rep, got, err
	}
	rep, got, err := againstGolden(m.Model, g, tol, opts.Progress)
	if rep != nil {
		rep.Got, rep.Want = opts.Model, opts.Golden
	}
	return rep, got, err
}

// writeFiles writes the golden-format run, the .kld file and the report
// that opts ask for.
func (opts *Options) writeFiles(m *model.Loaded, ids []int, got *Golden, rep *Report) error {
	if opts.LogitsOut != "" {
		if got == nil {
			var err error
			if got, err = Forward(m.Model, ids); err != nil {
				return err
			}
		}
		if err := WriteGolden(opts.LogitsOut, got); err != nil {
			return err
		}
	}
	if opts.KLDOut != "" {
		nctx := opts.KLDCtx
		if nctx == 0 {
			nctx = 512
		}
		if err := WriteKLD(opts.KLDOut, m.Model, ids, nctx); err != nil {
			return err
		}
	}
	if opts.Report != "" {
		return rep.WriteFile(opts.Report)
	}
	return nil
}

// torchGolden runs the PyTorch reference on the GPU and reads its golden back.
func torchGolden(ctx context.Context, opts Options, ids []int) (*Golden, error) {
	if len(opts.TorchScript) == 0 {
		return nil, usagef("--device cuda: no PyTorch reference script given")
	}
	py, err := FindPython(ctx, opts.Python, true)
	if err != nil {
		return nil, err
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
	out := filepath.Join(dir, "golden.safetensors")
	cmd := exec.CommandContext(ctx, py, script, opts.Model, "--tokens", strings.Join(toks, ","), "--mode", opts.Reference.Numerics.String(), "--device", "cuda", "-o", out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("PyTorch reference on cuda (%s): %w: %s", py, err, lastLine(stderr.String()))
	}
	return ReadGolden(out)
}

// FindPython returns the interpreter to run the PyTorch reference with: the
// given one, else $SAMBAY_PYTHON, else the first of python3 on PATH and
// /usr/bin/python3 (where Debian's python3-torch installs) that imports
// torch. With cuda it must also see a GPU. Errors are one line that names
// the interpreter and what it lacks.
func FindPython(ctx context.Context, given string, cuda bool) (string, error) {
	cands := []string{given}
	if given == "" {
		cands = []string{os.Getenv("SAMBAY_PYTHON"), "python3", "/usr/bin/python3"}
	}
	var tried []string
	var lastErr error
	for _, c := range cands {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			tried = append(tried, c+" (not found)")
			lastErr = fmt.Errorf("%s: not found", c)
			continue
		}
		out, err := exec.CommandContext(ctx, p, "-c", "import sys, torch; sys.stdout.write('cuda' if torch.cuda.is_available() else 'cpu')").Output()
		if err != nil {
			msg := "cannot import torch"
			if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
				msg += ": " + lastLine(string(ee.Stderr))
			}
			tried = append(tried, p+" (no PyTorch)")
			lastErr = fmt.Errorf("%s %s", p, msg)
			continue
		}
		if cuda && strings.TrimSpace(string(out)) != "cuda" {
			return "", fmt.Errorf("PyTorch at %s has no CUDA: torch.cuda.is_available() is false (no GPU, or a CPU-only PyTorch)", p)
		}
		return p, nil
	}
	if given != "" {
		return "", fmt.Errorf("--python %v", lastErr)
	}
	return "", fmt.Errorf("no python3 with PyTorch found (tried %s); install PyTorch (Debian: apt-get install python3-torch) or pass --python PATH", strings.Join(tried, ", "))
}

// lastLine is the last non-empty line of a program's error output.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
