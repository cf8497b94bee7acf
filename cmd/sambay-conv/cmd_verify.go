package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	sambayconv "github.com/sambay-conv/sambay-conv"
	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/verify"
)

func verifyCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name:  "verify",
		Usage: "check a canonical model against a golden file, another model, cached decoding, or the PyTorch reference on a GPU",
		ArgsUsage: "MODEL\n\n   verify MODEL --golden FILE\n   verify MODEL --against OTHER (--tokens 1,2,3 | --tokens-file F)\n" +
			"   verify MODEL --decode (--tokens … | --golden FILE)\n   verify MODEL --device cuda (--tokens … | --golden FILE)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "golden", Usage: "golden file (safetensors: input_ids, logits, hidden.<i>) to compare with"},
			&cli.StringFlag{Name: "against", Usage: "another canonical model folder to compare with"},
			&cli.StringFlag{Name: "tokens", Usage: "comma-separated token ids"},
			&cli.StringFlag{Name: "tokens-file", Usage: "file of token ids (whitespace or comma separated)"},
			&cli.BoolFlag{Name: "decode", Usage: "check cached decoding (one token per step) against prefill"},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cuda: run reference/torch/sambay_ref.py on the GPU through python3 and compare with the Go CPU run"},
			&cli.StringFlag{Name: "mode", Value: "fp32", Usage: "numerics: fp32 or bf16"},
			&cli.BoolFlag{Name: "round-params-bf16", Usage: "in bf16 mode also round A_log and the DA lambdas"},
			&cli.BoolFlag{Name: "state-bf16", Usage: "round the Mamba SSM state and conv window to bf16 after every step, as HF and vLLM caches do"},
			&cli.FloatFlag{Name: "tol-logits", Usage: "tolerance on logits, relative to max |logit| (default fp32 1e-5, bf16 2e-2)"},
			&cli.FloatFlag{Name: "tol-hidden", Usage: "tolerance on each block's hidden state, relative to its max |value|"},
			&cli.FloatFlag{Name: "max-kld", Usage: "quantized MODEL: fail when the mean KL divergence exceeds this (default: report only)"},
			&cli.StringFlag{Name: "report", Usage: "write the report to FILE.md, FILE.html or FILE.json"},
			&cli.StringFlag{Name: "logits-out", Usage: "write the Go run as a golden-format file"},
			&cli.StringFlag{Name: "kld-out", Usage: "write llama-perplexity reference logits (.kld) of MODEL over the tokens, in chunks of --ctx"},
			&cli.IntFlag{Name: "ctx", Value: 512, Usage: "chunk length for --kld-out"},
			jsonFlag(),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("verify takes one MODEL argument, got %d", c.Args().Len())
			}
			return runVerify(ctx, c, c.Args().First())
		},
	})
}

func parseTokens(s string) ([]int, error) {
	var ids []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad token id %q", f)
		}
		ids = append(ids, v)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no token ids")
	}
	return ids, nil
}

func tokenFlags(c *cli.Command) ([]int, error) {
	switch {
	case c.String("tokens") != "" && c.String("tokens-file") != "":
		return nil, usagef("give --tokens or --tokens-file, not both")
	case c.String("tokens") != "":
		ids, err := parseTokens(c.String("tokens"))
		if err != nil {
			return nil, usagef("--tokens: %v", err)
		}
		return ids, nil
	case c.String("tokens-file") != "":
		b, err := os.ReadFile(c.String("tokens-file"))
		if err != nil {
			return nil, err
		}
		return parseTokens(string(b))
	}
	return nil, nil
}

func runVerify(ctx context.Context, c *cli.Command, model string) error {
	opts := reference.Options{RoundParamsBF16: c.Bool("round-params-bf16"), StateBF16: c.Bool("state-bf16")}
	switch c.String("mode") {
	case "fp32":
	case "bf16":
		opts.Numerics = reference.BF16
	default:
		return usagef("--mode %q: want fp32 or bf16", c.String("mode"))
	}
	tol := verify.DefaultTolerance(opts.Numerics)
	if c.IsSet("tol-logits") {
		tol.Logits = c.Float("tol-logits")
	}
	if c.IsSet("tol-hidden") {
		tol.Hidden = c.Float("tol-hidden")
	}
	ids, err := tokenFlags(c)
	if err != nil {
		return err
	}
	golden := c.String("golden")
	against := c.String("against")
	cuda := c.String("device") == "cuda"
	if c.String("device") != "cpu" && !cuda {
		return usagef("--device %q: want cpu or cuda", c.String("device"))
	}
	n := 0
	for _, b := range []bool{golden != "" && !c.Bool("decode") && !cuda, against != "", c.Bool("decode"), cuda} {
		if b {
			n++
		}
	}
	if n != 1 {
		return usagef("choose one check: --golden FILE, --against MODEL, --decode or --device cuda")
	}
	var g *verify.Golden
	if golden != "" {
		if g, err = verify.ReadGolden(golden); err != nil {
			return err
		}
		if ids == nil {
			ids = g.IDs
		}
	}
	if (against != "" || c.Bool("decode") || cuda) && ids == nil {
		return usagef("this check needs token ids: --tokens, --tokens-file or --golden")
	}
	m, err := convert.Open(model, opts)
	if err != nil {
		return err
	}
	defer m.Close()
	quantized := m.Format != "safetensors"
	if quantized && !c.IsSet("tol-logits") && !c.IsSet("tol-hidden") {
		// A quantized model is expected to differ: report, and judge only by --max-kld.
		tol = verify.Tolerance{Logits: math.Inf(1), Hidden: math.Inf(1)}
	}
	var rep *verify.Report
	var got *verify.Golden
	switch {
	case c.Bool("decode"):
		rep, err = verify.Decode(m.Model, ids, tol)
	case against != "":
		var o *convert.LoadedModel
		if o, err = convert.Open(against, opts); err != nil {
			return err
		}
		defer o.Close()
		rep, got, err = verify.AgainstModel(m.Model, o.Model, ids, tol)
		if rep != nil {
			rep.Got, rep.Want = model, against
		}
	case cuda:
		if g, err = torchGolden(ctx, model, ids, opts.Numerics); err != nil {
			return err
		}
		rep, got, err = verify.AgainstGolden(m.Model, g, tol)
		if rep != nil {
			rep.Got, rep.Want = model+" (Go, CPU)", "reference/torch/sambay_ref.py on cuda"
		}
	default:
		rep, got, err = verify.AgainstGolden(m.Model, g, tol)
		if rep != nil {
			rep.Got, rep.Want = model, golden
		}
	}
	if err != nil {
		return err
	}
	if c.IsSet("max-kld") && rep.KLDMean > c.Float("max-kld") {
		rep.Pass = false
		rep.Notes = append(rep.Notes, fmt.Sprintf("mean KL divergence %.4g exceeds --max-kld %.4g", rep.KLDMean, c.Float("max-kld")))
	}
	var quality []convert.TensorQuality
	if quantized && against != "" {
		if quality, err = convert.QuantizationReport(model, against); err != nil {
			return err
		}
	}
	if out := c.String("logits-out"); out != "" {
		if got == nil {
			if got, err = verify.Forward(m.Model, ids); err != nil {
				return err
			}
		}
		if err := verify.WriteGolden(out, got); err != nil {
			return err
		}
	}
	if p := c.String("kld-out"); p != "" {
		if err := verify.WriteKLD(p, m.Model, ids, int(c.Int("ctx"))); err != nil {
			return err
		}
	}
	if p := c.String("report"); p != "" {
		if err := rep.WriteFile(p); err != nil {
			return err
		}
	}
	w := c.Root().Writer
	if c.Bool("json") {
		if quality != nil {
			return errOr(printJSON(w, map[string]any{"parity": rep, "tensors": quality}), rep)
		}
		if err := rep.WriteJSON(w); err != nil {
			return err
		}
	} else {
		rep.WriteText(w)
		if quality != nil {
			fmt.Fprintf(w, "\nquantization: %-34s %-12s %8s %10s\n", "tensor", "type", "bits/w", "nmse")
			for _, q := range quality {
				fmt.Fprintf(w, "              %-34s %-12s %8.3f %10.3g\n", q.Name, q.Type, q.BitsPerWeight, q.NMSE)
			}
		}
	}
	return rep.Err()
}

// torchGolden runs the embedded PyTorch reference through python3 (or
// $SAMBAY_PYTHON) on the GPU and reads its golden back.
func torchGolden(ctx context.Context, model string, ids []int, n reference.Numerics) (*verify.Golden, error) {
	dir, err := os.MkdirTemp("", "sambay-torch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "sambay_ref.py")
	if err := os.WriteFile(script, sambayconv.TorchReference, 0o644); err != nil {
		return nil, err
	}
	toks := make([]string, len(ids))
	for i, v := range ids {
		toks[i] = strconv.Itoa(v)
	}
	py := os.Getenv("SAMBAY_PYTHON")
	if py == "" {
		py = "python3"
	}
	out := filepath.Join(dir, "golden.safetensors")
	cmd := exec.CommandContext(ctx, py, script, model, "--tokens", strings.Join(toks, ","), "--mode", n.String(), "--device", "cuda", "-o", out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("PyTorch reference on cuda (%s %s): %w", py, script, err)
	}
	return verify.ReadGolden(out)
}

func errOr(err error, rep *verify.Report) error {
	if err != nil {
		return err
	}
	return rep.Err()
}
