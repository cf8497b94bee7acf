package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	sambayconv "github.com/sambay-conv/sambay-conv"
	"github.com/sambay-conv/sambay-conv/convert"
)

func pipelineCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name:      "pipeline",
		Usage:     "run the whole job on a checkpoint (default: the bundled example): import to the canonical layout and inspect it",
		ArgsUsage: "[SRC]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "sambay-out", Usage: "output folder"},
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
			w := c.Root().Writer
			if c.Bool("json") {
				return printJSON(w, map[string]any{"import": importJSON(res), "inspect": rep})
			}
			fmt.Fprintln(w, "== import")
			printImport(w, res)
			fmt.Fprintln(w, "\n== inspect", res.Output)
			printInspect(w, rep)
			return nil
		},
	})
}
