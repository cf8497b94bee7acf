// Package pipeline runs the whole job on one checkpoint: import to the
// canonical layout, inspect it, verify it against a golden file, quantize it
// to every requested target (GGUF mixes, MLX affine), verify each target
// against the imported model, and write one report (Markdown, JSON, HTML
// with a plot of KL divergence against bits per weight). It only sequences
// the packages that do the work.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/generate"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/verify"
)

// A Target is one quantized output: Format "gguf" with a policy (q8_0,
// q4_k_m, …) or "mlx" with bits.
type Target struct {
	Format string
	Policy string // gguf
	Bits   int    // mlx
	Group  int    // mlx group size (0: 64)
}

func (t Target) String() string {
	if t.Format == "mlx" {
		if t.Group != 0 && t.Group != 64 {
			return fmt.Sprintf("mlx:%d:%d", t.Bits, t.Group)
		}
		return fmt.Sprintf("mlx:%d", t.Bits)
	}
	return "gguf:" + t.Policy
}

// ParseTargets parses "gguf:q8_0,gguf:q4_k_m,mlx:4,mlx:4:32" (mlx:BITS[:GROUP]).
func ParseTargets(s string) ([]Target, error) {
	var out []Target
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		kind, arg, ok := strings.Cut(f, ":")
		switch {
		case ok && kind == "gguf":
			t := Target{Format: "gguf", Policy: strings.ToLower(arg)}
			if err := (&ggufmodel.Options{Policy: t.Policy}).Validate(); err != nil {
				return nil, fmt.Errorf("target %q: %w", f, err)
			}
			out = append(out, t)
		case ok && kind == "mlx":
			bits, group, _ := strings.Cut(arg, ":")
			b, err := strconv.Atoi(bits)
			if err != nil {
				return nil, fmt.Errorf("target %q: bits must be a number", f)
			}
			g := 64
			if group != "" {
				if g, err = strconv.Atoi(group); err != nil {
					return nil, fmt.Errorf("target %q: group size must be a number", f)
				}
			}
			if err := quant.MLXCheck(b, g); err != nil {
				return nil, fmt.Errorf("target %q: %w", f, err)
			}
			out = append(out, Target{Format: "mlx", Bits: b, Group: g})
		default:
			return nil, fmt.Errorf("target %q: want gguf:POLICY or mlx:BITS", f)
		}
	}
	return out, nil
}

// FormatTargets is the inverse of ParseTargets.
func FormatTargets(ts []Target) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return strings.Join(out, ",")
}

// DefaultTargets are the pipeline's default outputs.
var DefaultTargets = []Target{{Format: "gguf", Policy: "q8_0"}, {Format: "gguf", Policy: "q4_k_m"}, {Format: "mlx", Bits: 4, Group: 64}}

// Options control Run.
type Options struct {
	Source  string
	Output  string // folder: canonical/, the quantized files, report.{md,json,html}
	Import  convert.ImportOptions
	Golden  string // golden file to verify the import against ("" skips)
	Targets []Target
	Tokens  []int // tokens for the quantized comparisons (default: the golden's, else 64 generated)
	// Text, when set, is a text file on which the import and every target
	// are scored (perplexity, and KL and top-1 against the import), in
	// chunks of TextCtx tokens (default 512) with the model's tokenizer.
	Text       string
	TextCtx    int
	TextChunks int // at most this many chunks (0: all)
	// TextLabel names the text in reports (default Text).
	TextLabel string
	// Prompt, when set, is continued greedily by the import and by every
	// target for SampleTokens tokens (default 48): a sample of each
	// output's text in the report.
	Prompt       string
	SampleTokens int
	Force        bool // run into an existing, non-empty Output (replacing only the pipeline's own outputs)
	Log          func(string)
	// SourceLabel names the source in reports (default Source), e.g. "the
	// bundled example" instead of a temporary path.
	SourceLabel string
	// ToolVersion is written into reports.
	ToolVersion string
	// Progress, when set, receives each stage's bytes written so far and
	// total ("import", then each target); it must be safe for concurrent use.
	Progress func(stage string, done, total int64)
}

// progress returns the callback of one stage, or nil.
func (o *Options) progress(stage string) func(done, total int64) {
	if o.Progress == nil {
		return nil
	}
	return func(done, total int64) { o.Progress(stage, done, total) }
}

// TargetResult is one quantized output and its comparison with the import.
type TargetResult struct {
	Target        string         `json:"target"`
	Path          string         `json:"path"`
	TensorBytes   int64          `json:"tensor_bytes"`
	BitsPerWeight float64        `json:"bits_per_weight"`
	Parity        *verify.Report `json:"parity"`
	// OnText is the target scored on Options.Text against the import.
	OnText  *verify.TextResult `json:"on_text,omitempty"`
	Sample  *generate.Result   `json:"sample,omitempty"`
	Tensors []TensorQuality    `json:"tensors,omitempty"`
}

// TensorQuality is one tensor's quantization: type, bits per weight, NMSE.
type TensorQuality struct {
	Name          string  `json:"name"`
	Type          string  `json:"type"`
	BitsPerWeight float64 `json:"bits_per_weight"`
	NMSE          float64 `json:"nmse"`
}

// Result is everything the pipeline did.
type Result struct {
	Import      *convert.ImportResult `json:"-"`
	Canonical   string                `json:"canonical"`
	Inspect     *model.InspectReport  `json:"inspect"`
	Golden      *verify.Report        `json:"golden,omitempty"`
	Source      string                `json:"source"`       // the source as the user named it
	ToolVersion string                `json:"tool_version"` // as Options.ToolVersion
	Generated   string                `json:"generated"`    // UTC date and time of the run
	// GoldenSkipped says why the import was not checked against a golden.
	GoldenSkipped string `json:"golden_skipped,omitempty"`
	// OnText is the import scored on Options.Text; TextSkipped says why
	// there is no such score.
	OnText      *verify.TextResult `json:"on_text,omitempty"`
	TextSkipped string             `json:"text_skipped,omitempty"`
	// Sample is the import's greedy continuation of Options.Prompt.
	Sample  *generate.Result `json:"sample,omitempty"`
	Targets []TargetResult   `json:"targets"`
	Reports []string         `json:"reports"`
}

// Run runs the pipeline. It returns an error wrapping verify.ErrParity when
// the import does not match the golden (the quantized targets are reported,
// not judged).
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := model.Require(o.Source, model.ForImport); err != nil {
		return nil, err
	}
	if err := checkOutput(o.Output, o.Force); err != nil {
		return nil, err
	}
	lock, err := atomicfile.Acquire(o.Output)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	// The reports are written under the folder's lock only: remove what a
	// killed run left of them (the other outputs lock and clean their own).
	for _, ext := range reportExts {
		atomicfile.RemoveLeftovers(filepath.Join(o.Output, "report"+ext))
	}
	res := &Result{Canonical: filepath.Join(o.Output, "canonical"), Source: o.Source, ToolVersion: o.ToolVersion,
		Generated: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if o.SourceLabel != "" {
		res.Source = o.SourceLabel
	}
	iopts := o.Import
	iopts.Output, iopts.Force = res.Canonical, true
	if iopts.Progress == nil {
		iopts.Progress = o.progress("import")
	}
	imp, err := convert.Import(ctx, o.Source, iopts)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	res.Import = imp
	if res.Inspect, err = model.Inspect(res.Canonical, convert.ConfigOptions{}, convert.SourceOptions{}); err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if res.Inspect.ConfigError != "" {
		return nil, fmt.Errorf("inspect of the imported model: %s", res.Inspect.ConfigError)
	}
	base, err := model.Open(res.Canonical, reference.Options{})
	if err != nil {
		return nil, err
	}
	defer base.Close()
	tokens, err := res.checkGolden(base, o)
	if err != nil {
		return nil, err
	}
	if o.Text == "" {
		res.TextSkipped = "no text file (--text FILE): the outputs were not scored on text"
	} else if res.OnText, err = verify.RunText(ctx, verify.TextOptions{Model: res.Canonical, Text: o.Text, Ctx: o.TextCtx, Chunks: o.TextChunks}); err != nil {
		return nil, fmt.Errorf("perplexity on %s: %w", o.Text, err)
	} else {
		o.labelText(res.OnText)
		o.logf("perplexity on %s: %.4f ± %.4f (%d predictions)", res.OnText.Text, res.OnText.PPL, res.OnText.PPLStdErr, res.OnText.Scored)
	}
	if res.Sample, err = o.sample(ctx, res.Canonical); err != nil {
		return nil, err
	}
	for _, t := range o.Targets {
		tr, err := runTarget(ctx, t, res.Canonical, base, tokens, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		if res.OnText != nil {
			if tr.OnText, err = verify.RunText(ctx, verify.TextOptions{Model: tr.Path, Against: res.Canonical, Text: o.Text, Ctx: o.TextCtx, Chunks: o.TextChunks}); err != nil {
				return nil, fmt.Errorf("%s: perplexity on %s: %w", t, o.Text, err)
			}
			o.labelText(tr.OnText)
		}
		if tr.Sample, err = o.sample(ctx, tr.Path); err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		o.logf("%s: %.3f bits/weight, KL mean %.4g, top-1 %.1f%%", t, tr.BitsPerWeight, tr.Parity.KLDMean, 100*tr.Parity.Top1Agreement)
		res.Targets = append(res.Targets, *tr)
	}
	for _, ext := range reportExts {
		p := filepath.Join(o.Output, "report"+ext)
		if err := res.writeReport(p); err != nil {
			return nil, err
		}
		res.Reports = append(res.Reports, p)
	}
	if res.Golden != nil {
		if err := res.Golden.Err(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// reportExts are the formats of the pipeline's report.
var reportExts = []string{".md", ".json", ".html"}

// checkOutput refuses an existing, non-empty output folder unless force.
// With force the pipeline replaces only its own outputs in it (canonical/,
// model-*.gguf, mlx-*/, report.*): the import and the MLX export refuse a
// folder of theirs that holds anything else, and every other file of the
// output folder is left as it is.
func checkOutput(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 && !force {
		return fmt.Errorf("%w: %s exists and is not empty (use --force to replace the pipeline's outputs in it)", atomicfile.ErrExists, dir)
	}
	return nil
}

// labelText names the text of r by o.TextLabel, when there is one.
func (o *Options) labelText(r *verify.TextResult) {
	if o.TextLabel != "" {
		r.Text = o.TextLabel
	}
}

// sample continues o.Prompt greedily with the model at path, or returns
// nil without a prompt.
func (o *Options) sample(ctx context.Context, path string) (*generate.Result, error) {
	if o.Prompt == "" {
		return nil, nil
	}
	n := o.SampleTokens
	if n == 0 {
		n = 48
	}
	r, err := generate.Run(ctx, generate.Options{Model: path, Prompt: o.Prompt, MaxTokens: n}, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("sample of %s: %w", path, err)
	}
	o.logf("%s continues %q with %q", path, o.Prompt, r.Text)
	return r, nil
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, args...))
	}
}

// checkGolden verifies the import against the golden, when there is one,
// and returns the tokens the quantized targets are measured on: the given
// ones or the golden's, extended to 64 with a fixed pseudo-random sequence.
func (res *Result) checkGolden(base *model.Loaded, o Options) ([]int, error) {
	tokens := o.Tokens
	if o.Golden == "" {
		res.GoldenSkipped = "no golden file (--golden FILE): the import was not checked against an independent reference"
		o.logf("verify against a golden: SKIPPED (%s)", res.GoldenSkipped)
	} else {
		g, err := verify.ReadGolden(o.Golden)
		if err != nil {
			return nil, err
		}
		rep, _, err := verify.AgainstGolden(base.Model, g, verify.TolFP32)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		rep.Got, rep.Want = res.Canonical, o.Golden
		res.Golden = rep
		o.logf("verify against %s: %s", o.Golden, rep.Verdict)
		if tokens == nil {
			tokens = g.IDs
		}
	}
	V := base.Cfg.VocabSize
	for i := len(tokens); i < 64; i++ {
		tokens = append(tokens, (i*7919+13)%V)
	}
	return tokens, nil
}

// runTarget writes one quantized output of the canonical model and
// measures it against base on tokens.
func runTarget(ctx context.Context, t Target, canonical string, base *model.Loaded, tokens []int, o Options) (*TargetResult, error) {
	tr := &TargetResult{Target: t.String()}
	switch t.Format {
	case "gguf":
		tr.Path = filepath.Join(o.Output, "model-"+t.Policy+".gguf")
		g, err := ggufmodel.Export(ctx, canonical, ggufmodel.Options{Output: tr.Path, Policy: t.Policy, Force: true, Progress: o.progress(t.String())})
		if err != nil {
			return nil, err
		}
		tr.TensorBytes, tr.BitsPerWeight = g.TensorBytes, g.BitsPerWeight
		for _, tn := range g.Tensors {
			if tn.Type != "F32" {
				bpw := 8 * float64(tn.Bytes) / float64(elements(tn.Dims))
				tr.Tensors = append(tr.Tensors, TensorQuality{Name: tn.Name, Type: tn.Type, BitsPerWeight: bpw, NMSE: tn.NMSE})
			}
		}
	case "mlx":
		group := t.Group
		if group == 0 {
			group = 64
		}
		tr.Path = filepath.Join(o.Output, fmt.Sprintf("mlx-%dbit-g%d", t.Bits, group))
		m, err := mlxmodel.Export(ctx, canonical, mlxmodel.Options{Output: tr.Path, Bits: t.Bits, GroupSize: group, Force: true, Progress: o.progress(t.String())})
		if err != nil {
			return nil, err
		}
		tr.TensorBytes, tr.BitsPerWeight = m.TensorBytes, m.BitsPerWeight
		for _, mod := range m.Modules {
			if mod.Quantized {
				tr.Tensors = append(tr.Tensors, TensorQuality{Name: mod.Path, Type: fmt.Sprintf("affine%d-g%d", mod.Bits, group), NMSE: mod.NMSE})
			}
		}
	default:
		return nil, fmt.Errorf("unknown target %s", t)
	}
	q, err := model.Open(tr.Path, reference.Options{})
	if err != nil {
		return nil, err
	}
	rep, _, err := verify.AgainstModel(q.Model, base.Model, tokens, verify.ReportOnly)
	q.Close()
	if err != nil {
		return nil, err
	}
	rep.Got, rep.Want = tr.Path, canonical
	tr.Parity = rep
	return tr, nil
}

func elements(dims []uint64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= int64(d)
	}
	return n
}
