package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sambay-conv/sambay-conv/model"
	"github.com/urfave/cli/v3"
)

func inspectCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name:      "inspect",
		Usage:     "describe a checkpoint: format, config, layer table, parameters, dtypes, bytes",
		ArgsUsage: "PATH",
		Flags:     append([]cli.Flag{jsonFlag()}, configFlags()...),
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("inspect takes one PATH argument, got %d", c.Args().Len())
			}
			co, so, err := configOptions(c)
			if err != nil {
				return err
			}
			r, err := model.Inspect(c.Args().First(), co, so)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.Root().Writer, r)
			}
			printInspect(c.Root().Writer, r)
			return nil
		},
	})
}

func printInspect(w io.Writer, r *model.InspectReport) {
	fmt.Fprintf(w, "path:       %s\n", r.Path)
	fmt.Fprintf(w, "format:     %s (%s layout)\n", r.Format, r.Layout)
	fmt.Fprintf(w, "tensors:    %d, %d parameters, %d bytes\n", r.Tensors, r.Params, r.Bytes)
	var dts []string
	for _, k := range r.SortedDTypes() {
		s := r.DTypes[k]
		dts = append(dts, fmt.Sprintf("%s %d tensors / %d bytes", k, s.Tensors, s.Bytes))
	}
	fmt.Fprintf(w, "dtypes:     %s\n", strings.Join(dts, ", "))
	if r.IterNum != nil {
		fmt.Fprintf(w, "iter_num:   %d\n", *r.IterNum)
	}
	if r.Config == nil {
		fmt.Fprintf(w, "config:     undecided: %s\n", r.ConfigError)
		return
	}
	fmt.Fprintf(w, "config:     %s\n            from %s; Phi4Flash-compatible: %v\n", (r.Config).Summary(), r.ConfigFrom, *r.HFCompat)
	if r.ConfigError != "" {
		fmt.Fprintf(w, "mismatch:   %s\n", r.ConfigError)
	}
	fmt.Fprintf(w, "\n%5s  %-7s  %12s\n", "layer", "kind", "parameters")
	for _, l := range r.Layers {
		mark := ""
		if l.Memory {
			mark = "memory source (GMU layers read its scan output)"
		}
		if l.KV {
			mark = "KV source (cross layers attend over its keys and values)"
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%5d  %-7s  %12d  %s", l.Index, l.Kind, l.Params, mark), " "))
	}
}
