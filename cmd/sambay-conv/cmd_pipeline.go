package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	sambayconv "github.com/sambay-conv/sambay-conv"
	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/verify"
)

func pipelineCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name:      "pipeline",
		Usage:     "run the whole job on a checkpoint (default: the bundled example): import to the canonical layout, inspect it, verify it against a golden",
		ArgsUsage: "[SRC]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "sambay-out", Usage: "output folder"},
			&cli.StringFlag{Name: "golden", Usage: "golden file to verify the imported model against (the example brings its own)"},
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
			src := c.Args().First()
			golden := c.String("golden")
			if src == "" {
				tmp, err := os.MkdirTemp("", "sambay-example-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				if err := sambayconv.WriteExample(tmp); err != nil {
					return err
				}
				src = filepath.Join(tmp, sambayconv.ExampleCheckpoint)
				if co.ConfigFile == "" && co.Arch == "" {
					co.ConfigFile = filepath.Join(tmp, sambayconv.ExampleConfig)
				}
				if golden == "" {
					golden = filepath.Join(tmp, sambayconv.ExampleGolden)
				}
			}
			out := c.String("output")
			stderr := c.Root().ErrWriter
			opts := convert.ImportOptions{Output: filepath.Join(out, "canonical"), Config: co, Source: so, Force: true}
			if !c.Bool("json") {
				opts.Log = func(s string) { fmt.Fprintln(stderr, s) }
			}
			res, err := convert.Import(ctx, src, opts)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			rep, err := convert.Inspect(res.Output, convert.ConfigOptions{}, convert.SourceOptions{})
			if err != nil {
				return fmt.Errorf("inspect: %w", err)
			}
			if rep.ConfigError != "" {
				return fmt.Errorf("inspect of the imported model: %s", rep.ConfigError)
			}
			var vrep *verify.Report
			if golden != "" {
				if vrep, err = pipelineVerify(res.Output, golden, filepath.Join(out, "verify.html")); err != nil {
					return fmt.Errorf("verify: %w", err)
				}
			}
			w := c.Root().Writer
			if c.Bool("json") {
				if err := printJSON(w, map[string]any{"import": importJSON(res), "inspect": rep, "verify": vrep}); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(w, "== import")
				printImport(w, res)
				fmt.Fprintln(w, "\n== inspect", res.Output)
				printInspect(w, rep)
				if vrep != nil {
					fmt.Fprintln(w, "\n== verify against", golden, "(report:", filepath.Join(out, "verify.html")+")")
					vrep.WriteText(w)
				}
			}
			if vrep != nil {
				return vrep.Err()
			}
			return nil
		},
	})
}

// pipelineVerify runs the imported model in fp32 on the golden's tokens and
// writes an HTML report.
func pipelineVerify(model, golden, report string) (*verify.Report, error) {
	g, err := verify.ReadGolden(golden)
	if err != nil {
		return nil, err
	}
	m, err := convert.LoadModel(model, reference.Options{})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	rep, _, err := verify.AgainstGolden(m.Model, g, verify.TolFP32)
	if err != nil {
		return nil, err
	}
	rep.Got, rep.Want = model, golden
	return rep, rep.WriteFile(report)
}
