package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/quant"
)

func quantCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name:  "quant",
		Usage: "quantize a canonical model to GGUF (ggml types, llama.cpp mixes) or MLX (affine)",
		ArgsUsage: "MODEL\n\n   quant MODEL --to gguf --type q4_k_m -o FILE.gguf\n   quant MODEL --to gguf --pure --type q5_k -o FILE.gguf\n" +
			"   quant MODEL --to gguf --type q4_k_m --dry-run\n   quant MODEL --to mlx --bits 4 [--group-size 64] -o DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Value: "gguf", Usage: "output format: gguf or mlx"},
			&cli.IntFlag{Name: "bits", Value: 4, Usage: "mlx: bits per weight (2, 3, 4, 5, 6, 8)"},
			&cli.IntFlag{Name: "group-size", Value: 64, Usage: "mlx: group size (32, 64, 128)"},
			&cli.StringFlag{Name: "recipe", Usage: "mlx: mixed_4_6 (6 bits for embeddings, self-attention Wqkv and some fc2, 4 elsewhere)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing output (a GGUF file, or an MLX folder holding only files sambay-conv writes)"},
			&cli.StringFlag{Name: "type", Value: "q4_k_m", Usage: "GGUF mix (" + strings.Join(quant.MixNames(), ", ") + "), or with --pure one ggml type"},
			&cli.BoolFlag{Name: "pure", Usage: "every quantizable tensor in the one --type (q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k f16 bf16); shape fallback only"},
			&cli.StringSliceFlag{Name: "tensor-type", Usage: "REGEX=TYPE override on GGUF tensor names (first match wins); repeatable"},
			&cli.BoolFlag{Name: "generic", Usage: "any safetensors checkpoint, whatever its architecture: GGUF: every float tensor of ≥ 2 dims in --type (a ggml type), names kept; MLX: every X.weight matrix whose width the group divides, as mlx-lm names them"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan (type and bytes per tensor, total size, bits per weight) and write nothing"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output file"},
			&cli.StringFlag{Name: "name", Usage: "general.name (default: the model's name from its config)"},
			&cli.BoolFlag{Name: "verbose", Usage: "print every tensor (type, bytes, NMSE) or module, not only the summary"},
			&cli.BoolFlag{Name: "quiet", Usage: "print nothing but warnings and errors, and no progress bar"},
			jsonFlag(),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("quant takes one MODEL argument, got %d", c.Args().Len())
			}
			switch c.String("to") {
			case "gguf":
				return quantGGUF(ctx, c)
			case "mlx":
				return quantMLX(ctx, c)
			}
			return usagef("--to %q: want gguf or mlx", c.String("to"))
		},
	})
}

// requireInput checks that MODEL holds what quant reads: a canonical
// folder, or with --generic any safetensors file or folder.
func requireInput(c *cli.Command) error {
	use := model.ForQuant
	if c.Bool("generic") {
		use = model.ForGeneric
	}
	return model.Require(c.Args().First(), use)
}

// nmseUnread reports that no output of this run prints the NMSE (only
// --verbose and --json do), so the export need not measure it.
func nmseUnread(c *cli.Command) bool { return !c.Bool("verbose") && !c.Bool("json") }

// quantMLX wires the MLX flags into mlxmodel.Export and prints the result.
func quantMLX(ctx context.Context, c *cli.Command) error {
	if c.String("output") == "" {
		return usagef("quant --to mlx needs -o DIR")
	}
	if err := quant.MLXCheck(int(c.Int("bits")), int(c.Int("group-size"))); err != nil {
		return usagef("%v", err)
	}
	if c.Bool("generic") && c.String("recipe") != "" {
		return usagef("--recipe names SambaY modules; with --generic every matrix gets --bits")
	}
	if err := requireInput(c); err != nil {
		return err
	}
	bar := newProgress(c.Root().ErrWriter, c.Bool("quiet") || c.Bool("json"))
	var res *mlxmodel.Result
	var err error
	if c.Bool("generic") {
		res, err = mlxmodel.ExportGeneric(ctx, c.Args().First(), mlxmodel.GenericOptions{Output: c.String("output"),
			Bits: int(c.Int("bits")), GroupSize: int(c.Int("group-size")), Force: c.Bool("force"), NoStats: nmseUnread(c),
			Progress: bar.Func("mlx")})
	} else {
		res, err = mlxmodel.Export(ctx, c.Args().First(), mlxmodel.Options{Output: c.String("output"),
			Bits: int(c.Int("bits")), GroupSize: int(c.Int("group-size")), Recipe: c.String("recipe"), Force: c.Bool("force"),
			NoStats: nmseUnread(c), Progress: bar.Func("mlx")})
	}
	bar.Finish()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.Root().Writer, res)
	}
	if c.Bool("quiet") {
		return nil
	}
	w := c.Root().Writer
	nq := 0
	for _, m := range res.Modules {
		switch {
		case m.Quantized:
			nq++
			if c.Bool("verbose") {
				fmt.Fprintf(w, "%-40s %d bits  nmse %.3g\n", m.Path, m.Bits, m.NMSE)
			}
		case c.Bool("verbose"):
			fmt.Fprintf(w, "%-40s float   %s\n", m.Path, m.Why)
		}
	}
	fmt.Fprintf(w, "wrote %s: affine %d-bit, group %d, %d of %d modules quantized, %s of tensors, %.3f bits per weight\n",
		res.Path, res.Bits, res.GroupSize, nq, len(res.Modules), humanBytes(res.TensorBytes), res.BitsPerWeight)
	return nil
}

// quantGGUF wires the GGUF flags into ggufmodel.Export (or ExportGeneric)
// and prints the plan or the result.
func quantGGUF(ctx context.Context, c *cli.Command) error {
	opts := ggufmodel.Options{Output: c.String("output"), Policy: strings.ToLower(c.String("type")), DryRun: c.Bool("dry-run"), Name: c.String("name"), Force: c.Bool("force"),
		NoStats: nmseUnread(c)}
	for _, s := range c.StringSlice("tensor-type") {
		o, err := quant.ParseOverride(s)
		if err != nil {
			return usagef("%v", err)
		}
		opts.Overrides = append(opts.Overrides, o)
	}
	if opts.Output == "" && !opts.DryRun {
		return usagef("quant needs -o FILE (or --dry-run)")
	}
	var pureType ggml.Type
	if c.Bool("generic") || c.Bool("pure") {
		flag := map[bool]string{true: "--generic", false: "--pure"}[c.Bool("generic")]
		t, err := quant.ParseType(c.String("type"))
		if err != nil || t == ggml.TypeF32 {
			return usagef("%s --type %q: want a ggml type (q4_0 … q6_k, f16, bf16)", flag, c.String("type"))
		}
		pureType = t
	} else if err := opts.Validate(); err != nil {
		return usagef("--type %q: %v (or --pure with a ggml type)", c.String("type"), err)
	}
	if err := requireInput(c); err != nil {
		return err
	}
	bar := newProgress(c.Root().ErrWriter, c.Bool("quiet") || c.Bool("json"))
	opts.Progress = bar.Func("gguf")
	var res *ggufmodel.Result
	var err error
	switch {
	case c.Bool("generic"):
		res, err = ggufmodel.ExportGeneric(ctx, c.Args().First(), ggufmodel.GenericOptions{Output: opts.Output, Type: pureType, Overrides: opts.Overrides, DryRun: opts.DryRun, Force: opts.Force, NoStats: opts.NoStats, Progress: opts.Progress})
	case c.Bool("pure"):
		opts.Pure, opts.PureType, opts.Policy = true, pureType, ""
		res, err = ggufmodel.Export(ctx, c.Args().First(), opts)
	default:
		res, err = ggufmodel.Export(ctx, c.Args().First(), opts)
	}
	bar.Finish()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.Root().Writer, res)
	}
	if c.Bool("quiet") {
		for _, warn := range res.Warnings {
			fmt.Fprintln(c.Root().ErrWriter, "warning:", warn)
		}
		return nil
	}
	printPlan(c.Root().Writer, res, c.Bool("verbose") || opts.DryRun)
	return nil
}

// printPlan prints the summary of an export or plan, and with table every
// tensor's type, bytes and NMSE.
func printPlan(w io.Writer, r *ggufmodel.Result, table bool) {
	if table {
		fmt.Fprintf(w, "%-34s %-18s %-6s %12s  %s\n", "tensor", "dims", "type", "bytes", "nmse / note")
		for _, t := range r.Tensors {
			note := t.Why
			if r.Path != "" && t.Type != "F32" {
				note = strings.TrimSpace(fmt.Sprintf("%.3g %s", t.NMSE, t.Why))
			}
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-34s %-18s %-6s %12d  %s", t.Name, fmt.Sprint(t.Dims), t.Type, t.Bytes, note), " "))
		}
	}
	var counts []string
	// Widest type first, as ggml's table orders them by bits per weight.
	types := make([]ggml.Type, 0, len(r.TypeCounts))
	for k := range r.TypeCounts {
		if t, err := ggml.ParseType(k); err == nil {
			types = append(types, t)
		}
	}
	sort.Slice(types, func(i, j int) bool {
		bi, bj := types[i].BitsPerWeight(), types[j].BitsPerWeight()
		return bi > bj || (bi == bj && types[i] < types[j])
	})
	for _, t := range types {
		counts = append(counts, fmt.Sprintf("%d %s", r.TypeCounts[t.String()], t))
	}
	fmt.Fprintf(w, "%s: %d tensors (%s), %d parameters, %s of tensor data, %.3f bits per weight\n",
		r.Policy, len(r.Tensors), strings.Join(counts, ", "), r.Params, humanBytes(r.TensorBytes), r.BitsPerWeight)
	if r.Path != "" {
		fmt.Fprintf(w, "wrote %s (%s)\n", r.Path, humanBytes(r.FileBytes))
	}
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
}
