package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	sambayconv "github.com/sambay-conv/sambay-conv"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/verify"
)

func verifyCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name:  "verify",
		Usage: "check a canonical model against a golden file, another model, cached decoding, or the PyTorch reference on a GPU",
		ArgsUsage: "MODEL\n\n   verify MODEL --golden FILE\n   verify MODEL --against OTHER (--tokens 1,2,3 | --tokens-file F)\n" +
			"   verify MODEL --decode (--tokens … | --golden FILE)\n   verify MODEL --device cuda (--tokens … | --golden FILE)\n" +
			"   verify MODEL --text FILE [--ctx 512] [--chunks K] [--against ORIGINAL]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "golden", Usage: "golden file (safetensors: input_ids, logits, hidden.<i>) to compare with"},
			&cli.StringFlag{Name: "against", Usage: "another canonical model folder to compare with"},
			&cli.StringFlag{Name: "tokens", Usage: "comma-separated token ids"},
			&cli.StringFlag{Name: "tokens-file", Usage: "file of token ids (whitespace or comma separated)"},
			&cli.BoolFlag{Name: "decode", Usage: "check cached decoding (one token per step) against prefill"},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cuda: run reference/torch/sambay_ref.py on the GPU and compare with the Go CPU run"},
			&cli.StringFlag{Name: "python", Usage: "Python interpreter with PyTorch for --device cuda (default: $SAMBAY_PYTHON, else the first of python3 and /usr/bin/python3 that imports torch)"},
			&cli.StringFlag{Name: "mode", Value: "fp32", Usage: "numerics: fp32 or bf16"},
			&cli.BoolFlag{Name: "round-params-bf16", Usage: "in bf16 mode also round A_log and the DA lambdas"},
			&cli.BoolFlag{Name: "state-bf16", Usage: "round the Mamba SSM state and conv window to bf16 after every step, as HF and vLLM caches do"},
			&cli.BoolFlag{Name: "exact-dot", Usage: "multiply quantized matrices (GGUF, MLX 4/8-bit) by rows widened to float32, without quantizing the activation as llama.cpp does"},
			&cli.FloatFlag{Name: "tol-logits", HideDefault: true, Usage: "tolerance on logits, relative to max |logit| (default: fp32 1e-5, bf16 2e-2; a quantized MODEL is reported, not judged)"},
			&cli.FloatFlag{Name: "tol-hidden", HideDefault: true, Usage: "tolerance on each block's hidden state, relative to its max |value| (default: as --tol-logits)"},
			&cli.FloatFlag{Name: "max-kld", HideDefault: true, Usage: "quantized MODEL: fail when the mean KL divergence exceeds this (default: report only)"},
			&cli.StringFlag{Name: "report", Usage: "write the report to FILE.md, FILE.html or FILE.json"},
			&cli.BoolFlag{Name: "force", Usage: "replace existing --report, --logits-out and --kld-out files"},
			&cli.StringFlag{Name: "logits-out", Usage: "write the Go run as a golden-format file"},
			&cli.StringFlag{Name: "kld-out", Usage: "write llama-perplexity reference logits (.kld) of MODEL over the tokens (or the --text's), in chunks of --ctx"},
			&cli.IntFlag{Name: "ctx", Value: 512, Usage: "chunk length for --kld-out and --text"},
			&cli.StringFlag{Name: "text", Usage: "perplexity over this text file, tokenized with MODEL's tokenizer, as llama-perplexity measures it (with --against: also the original's, KL and top-1)"},
			&cli.IntFlag{Name: "chunks", HideDefault: true, Usage: "--text: at most this many chunks (default: all)"},
			jsonFlag(),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("verify takes one MODEL argument, got %d", c.Args().Len())
			}
			if c.IsSet("text") {
				return runVerifyText(ctx, c)
			}
			if c.IsSet("chunks") {
				return usagef("--chunks goes with --text")
			}
			return runVerify(ctx, c)
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

// verifyOptions turns the flags into verify.Options; bad flags are usage errors.
func verifyOptions(c *cli.Command) (verify.Options, error) {
	o := verify.Options{Model: c.Args().First(), Golden: c.String("golden"), Against: c.String("against"),
		Decode: c.Bool("decode"), Device: c.String("device"),
		Reference: reference.Options{RoundParamsBF16: c.Bool("round-params-bf16"), StateBF16: c.Bool("state-bf16"), ExactDot: c.Bool("exact-dot")},
		LogitsOut: c.String("logits-out"), KLDOut: c.String("kld-out"), KLDCtx: int(c.Int("ctx")), Report: c.String("report"), Force: c.Bool("force"), Python: c.String("python"), ToolVersion: version(),
		TorchScript: sambayconv.TorchReference}
	switch c.String("mode") {
	case "fp32":
	case "bf16":
		o.Reference.Numerics = reference.BF16
	default:
		return o, usagef("--mode %q: want fp32 or bf16", c.String("mode"))
	}
	for _, f := range []struct {
		name string
		dst  **float64
	}{{"tol-logits", &o.TolLogits}, {"tol-hidden", &o.TolHidden}, {"max-kld", &o.MaxKLD}} {
		if c.IsSet(f.name) {
			v := c.Float(f.name)
			*f.dst = &v
		}
	}
	var err error
	o.Tokens, err = tokenFlags(c)
	return o, err
}

func runVerify(ctx context.Context, c *cli.Command) error {
	opts, err := verifyOptions(c)
	if err != nil {
		return err
	}
	bar := newProgress(c.Root().ErrWriter, c.Bool("json"))
	if bar != nil {
		opts.Progress = func(stage string, done, total int) { bar.Blocks(stage, done, total) }
	}
	res, err := verify.Run(ctx, opts)
	bar.Finish()
	if errors.Is(err, verify.ErrUsage) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	rep := res.Report
	w := c.Root().Writer
	if c.Bool("json") {
		if res.Quality != nil {
			return errOr(printJSON(w, map[string]any{"parity": rep, "tensors": res.Quality}), rep)
		}
		if err := rep.WriteJSON(w); err != nil {
			return err
		}
	} else {
		rep.WriteText(w)
		if res.Quality != nil {
			fmt.Fprintf(w, "\nquantization: %-34s %-12s %8s %10s\n", "tensor", "type", "bits/w", "nmse")
			for _, q := range res.Quality {
				fmt.Fprintf(w, "              %-34s %-12s %8.3f %10.3g\n", q.Name, q.Type, q.BitsPerWeight, q.NMSE)
			}
		}
	}
	return rep.Err()
}

func errOr(err error, rep *verify.Report) error {
	if err != nil {
		return err
	}
	return rep.Err()
}

// runVerifyText is verify --text: perplexity on a text file.
func runVerifyText(ctx context.Context, c *cli.Command) error {
	for _, f := range []string{"golden", "tokens", "tokens-file", "decode", "logits-out", "report", "max-kld", "tol-logits", "tol-hidden"} {
		if c.IsSet(f) {
			return usagef("--%s does not go with --text", f)
		}
	}
	if c.String("text") == "" {
		return usagef("--text needs a file")
	}
	if c.Int("ctx") < 4 {
		return usagef("--ctx %d: want at least 4 tokens", c.Int("ctx"))
	}
	if c.Int("chunks") < 0 {
		return usagef("--chunks %d: want 1 or more (or leave it out for all)", c.Int("chunks"))
	}
	if c.String("device") != "cpu" {
		return usagef("--text runs on the CPU (--device %s)", c.String("device"))
	}
	o := verify.TextOptions{Model: c.Args().First(), Against: c.String("against"), Text: c.String("text"),
		Ctx: int(c.Int("ctx")), Chunks: int(c.Int("chunks")), KLDOut: c.String("kld-out"), Force: c.Bool("force"),
		Reference: reference.Options{ExactDot: c.Bool("exact-dot")}}
	switch c.String("mode") {
	case "fp32":
	case "bf16":
		o.Reference.Numerics = reference.BF16
	default:
		return usagef("--mode %q: want fp32 or bf16", c.String("mode"))
	}
	bar := newProgress(c.Root().ErrWriter, c.Bool("json"))
	if bar != nil {
		o.Progress = func(done, total int) { bar.Blocks("chunks", done, total) }
	}
	res, err := verify.RunText(ctx, o)
	bar.Finish()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.Root().Writer, res)
	}
	res.WriteText(c.Root().Writer)
	return nil
}
