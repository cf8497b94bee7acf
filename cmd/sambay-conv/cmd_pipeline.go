package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	sambayconv "github.com/sambay-conv/sambay-conv"
	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/pipeline"
)

func pipelineCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name: "pipeline",
		Usage: "the main job on a checkpoint (default: the bundled example): import, inspect, verify against a golden, " +
			"quantize to every target, verify each against the import, and write one report",
		ArgsUsage: "[SRC]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "sambay-out", Usage: "output folder"},
			&cli.StringFlag{Name: "golden", Usage: "golden file to verify the imported model against (the example brings its own)"},
			&cli.StringFlag{Name: "targets", Value: pipeline.FormatTargets(pipeline.DefaultTargets), Usage: "quantized outputs: gguf:POLICY and mlx:BITS[:GROUP], comma separated (empty: none)"},
			&cli.StringFlag{Name: "tokens-file", Usage: "token ids for comparing the quantized outputs (default: the golden's, extended to 64)"},
			&cli.BoolFlag{Name: "force", Usage: "run into an existing output folder, replacing only the pipeline's own outputs in it"},
			&cli.StringFlag{Name: "text", Usage: "score the import and every output on this text file (perplexity; KL and top-1 against the import), with the model's tokenizer"},
			&cli.IntFlag{Name: "ctx", Value: 512, Usage: "--text: tokens per chunk (the example's default: " + fmt.Sprint(sambayconv.ExampleTextCtx) + ", its training length)"},
			&cli.IntFlag{Name: "chunks", Usage: "--text: score at most this many chunks (0: all)"},
			&cli.StringFlag{Name: "prompt", Usage: "a prompt that the import and every output continue greedily, as a sample in the report (the example's default: " + fmt.Sprintf("%q", sambayconv.ExamplePrompt) + ")"},
			&cli.IntFlag{Name: "sample-tokens", Value: 48, Usage: "--prompt: tokens to generate"},
			jsonFlag(),
		}, configFlags()...),
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() > 1 {
				return usagef("pipeline takes at most one SRC argument, got %d", c.Args().Len())
			}
			co, so, err := configOptions(c)
			if err != nil {
				return err
			}
			targets, err := pipeline.ParseTargets(c.String("targets"))
			if err != nil {
				return usagef("--targets: %v", err)
			}
			if c.IsSet("text") && c.String("text") == "" {
				return usagef("--text needs a file")
			}
			if c.Int("ctx") < 4 {
				return usagef("--ctx %d: want at least 4 tokens", c.Int("ctx"))
			}
			if c.Int("chunks") < 0 {
				return usagef("--chunks %d: want 0 (all) or more", c.Int("chunks"))
			}
			if c.IsSet("prompt") && c.String("prompt") == "" {
				return usagef("--prompt needs text")
			}
			if n := c.Int("sample-tokens"); n < 1 || n > 4096 {
				return usagef("--sample-tokens %d: want 1 to 4096", n)
			}
			o := pipeline.Options{Source: c.Args().First(), Output: c.String("output"), Golden: c.String("golden"), Targets: targets, Force: c.Bool("force"), ToolVersion: version(),
				Text: c.String("text"), TextCtx: int(c.Int("ctx")), TextChunks: int(c.Int("chunks")), Prompt: c.String("prompt"), SampleTokens: int(c.Int("sample-tokens")),
				Import: convert.ImportOptions{Config: co, Source: so}}
			if f := c.String("tokens-file"); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				if o.Tokens, err = parseTokens(string(b)); err != nil {
					return usagef("--tokens-file: %v", err)
				}
			}
			if o.Source == "" {
				tmp, err := os.MkdirTemp("", "sambay-example-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				if err := sambayconv.WriteExample(tmp); err != nil {
					return err
				}
				o.Source = filepath.Join(tmp, sambayconv.ExampleCheckpoint)
				o.SourceLabel = "the bundled example (" + sambayconv.ExampleCheckpoint + ", an ArchScale training checkpoint)"
				if co.ConfigFile == "" && co.Arch == "" {
					o.Import.Config.ConfigFile = filepath.Join(tmp, sambayconv.ExampleConfig)
				}
				if o.Golden == "" {
					o.Golden = filepath.Join(tmp, sambayconv.ExampleGolden)
				}
				if o.Text == "" {
					o.Text = filepath.Join(tmp, sambayconv.ExampleText)
					o.TextLabel = sambayconv.ExampleText + " (held-out Go source of the example)"
				}
				if !c.IsSet("ctx") {
					o.TextCtx = sambayconv.ExampleTextCtx
				}
				if o.Prompt == "" {
					o.Prompt = sambayconv.ExamplePrompt
				}
			}
			stderr := c.Root().ErrWriter
			if !c.Bool("json") {
				o.Log = func(s string) { fmt.Fprintln(stderr, s) }
				o.Import.Log = o.Log
			}
			bar := newProgress(c.Root().ErrWriter, c.Bool("json"))
			if bar != nil {
				o.Progress = bar.Stage
			}
			res, runErr := pipeline.Run(ctx, o)
			bar.Finish()
			if res == nil {
				return runErr
			}
			w := c.Root().Writer
			if c.Bool("json") {
				if err := printJSON(w, map[string]any{"import": importJSON(res.Import), "result": res}); err != nil {
					return err
				}
				return runErr
			}
			fmt.Fprintln(w, "== import")
			printImport(w, res.Import)
			fmt.Fprintln(w, "\n== inspect", res.Canonical)
			printInspect(w, res.Inspect)
			if res.Golden != nil {
				fmt.Fprintln(w, "\n== verify against", o.Golden)
				res.Golden.WriteText(w)
			}
			if res.GoldenSkipped != "" {
				fmt.Fprintln(w, "\n== verify against a golden\nSKIPPED ", res.GoldenSkipped)
			}
			if len(res.Targets) > 0 {
				fmt.Fprintln(w, "\n== quantized outputs vs the imported model")
				fmt.Fprintf(w, "%-14s %-7s %8s %10s %10s %10s %8s %12s\n", "target", "verdict", "bits/w", "KL mean", "KL p99", "KL max", "top-1", "PPL Δ")
				for _, t := range res.Targets {
					p := t.Parity
					fmt.Fprintf(w, "%-14s %-7s %8.3f %10.4g %10.4g %10.4g %7.1f%% %+12.4f\n", t.Target, p.Verdict, t.BitsPerWeight, p.KLDMean, p.KLDP99, p.KLDMax, 100*p.Top1Agreement, p.PPLDelta)
				}
				fmt.Fprintln(w, "(REPORT: measured, no threshold — a quantized model is expected to differ; KL divergence and NMSE: lower is better, top-1: higher is better)")
			}
			if x := res.OnText; x != nil {
				fmt.Fprintf(w, "\n== perplexity on %s: %d tokens, %d chunks of %d, %d predictions scored\n", x.Text, x.Tokens, x.Chunks, x.Ctx, x.Scored)
				fmt.Fprintf(w, "%-14s %10s %9s %10s %8s %10s %10s %8s\n", "model", "PPL", "±", "ΔPPL", "ΔPPL %", "KL mean", "KL p99", "top-1")
				fmt.Fprintf(w, "%-14s %10.4f %9.4f\n", "import", x.PPL, x.PPLStdErr)
				for _, t := range res.Targets {
					if y := t.OnText; y != nil {
						fmt.Fprintf(w, "%-14s %10.4f %9.4f %+10.4f %+7.2f%% %10.4g %10.4g %7.2f%%\n", t.Target, y.PPL, y.PPLStdErr, y.PPLDelta, 100*y.PPLDelta/y.PPLOriginal, y.KLDMean, y.KLDP99, 100*y.Top1Agreement)
					}
				}
			}
			if s := res.Sample; s != nil {
				fmt.Fprintf(w, "\n== samples: greedy continuations of %q\n", s.Prompt)
				fmt.Fprintf(w, "-- import\n%s%s\n", s.Prompt, s.Text)
				for _, t := range res.Targets {
					if t.Sample != nil {
						fmt.Fprintf(w, "-- %s\n%s%s\n", t.Target, t.Sample.Prompt, t.Sample.Text)
					}
				}
			}
			fmt.Fprintln(w, "\nreports:", res.Reports)
			return runErr
		},
	})
}
