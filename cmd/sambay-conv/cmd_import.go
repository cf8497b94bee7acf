package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/model"
)

func configFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "arch", Usage: "built-in ArchScale configuration (e.g. sambay_d16, sambayda_d24, phi4miniflash_d32)"},
		&cli.StringFlag{Name: "config", Usage: "config file: lit_gpt Config fields as JSON (ArchScale) or an HF config.json"},
		&cli.StringFlag{Name: "mup", Usage: "override μP++ from the checkpoint: on or off"},
		&cli.StringFlag{Name: "depth-scale", Usage: "override μP++ residual scaling 1/sqrt(2L): on or off"},
		&cli.IntFlag{Name: "mup-d0", HideDefault: true, Usage: "override the μP++ logit-scale base d0 (logits × d0/L)"},
		&cli.FloatFlag{Name: "attn-scale", HideDefault: true, Usage: "override the attention softmax scale"},
		&cli.BoolFlag{Name: "pickle-allow-unknown", Usage: "turn unknown pickle globals outside the model into inert placeholders"},
		&cli.BoolFlag{Name: "verify-crc", Usage: "check the CRC-32 of every storage read from a .pth"},
		&cli.StringFlag{Name: "tokenizer", Usage: "folder with the tokenizer files (tokenizer.json, tokenizer_config.json, …) to carry instead of those beside the checkpoint"},
	}
}

func onOff(c *cli.Command, name string) (*bool, error) {
	if !c.IsSet(name) {
		return nil, nil
	}
	switch strings.ToLower(c.String(name)) {
	case "on", "true", "1", "yes":
		v := true
		return &v, nil
	case "off", "false", "0", "no":
		v := false
		return &v, nil
	}
	return nil, usagef("--%s takes on or off, not %q", name, c.String(name))
}

func configOptions(c *cli.Command) (convert.ConfigOptions, convert.SourceOptions, error) {
	co := convert.ConfigOptions{Arch: c.String("arch"), ConfigFile: c.String("config")}
	var err error
	if co.MuP.MuP, err = onOff(c, "mup"); err != nil {
		return co, convert.SourceOptions{}, err
	}
	if co.MuP.DepthScale, err = onOff(c, "depth-scale"); err != nil {
		return co, convert.SourceOptions{}, err
	}
	if c.IsSet("mup-d0") {
		v := int(c.Int("mup-d0"))
		if v <= 0 {
			return co, convert.SourceOptions{}, usagef("--mup-d0 must be positive")
		}
		co.MuP.D0 = &v
	}
	if c.IsSet("attn-scale") {
		v := c.Float("attn-scale")
		if !(v > 0) {
			return co, convert.SourceOptions{}, usagef("--attn-scale must be positive")
		}
		co.MuP.AttnScale = &v
	}
	so := convert.SourceOptions{PickleAllowUnknown: c.Bool("pickle-allow-unknown"), VerifyCRC: c.Bool("verify-crc")}
	if c.IsSet("tokenizer") {
		if so.TokenizerDir = c.String("tokenizer"); so.TokenizerDir == "" {
			return co, so, usagef("--tokenizer: empty folder name")
		}
	}
	return co, so, nil
}

func importCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name:      "import",
		Usage:     "convert a checkpoint (ArchScale .pth, HF safetensors, state dict) to the canonical HF layout",
		ArgsUsage: "SRC",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output folder (required)"},
			&cli.StringFlag{Name: "dtype", Value: "bf16", Usage: "output dtype: bf16, f16 or f32 (A_log and DA lambdas stay f32)"},
			&cli.StringFlag{Name: "max-shard-size", Value: "5GB", Usage: "largest shard (e.g. 5GB, 500MB)"},
			&cli.BoolFlag{Name: "allow-extra", Usage: "drop source tensors the config does not use instead of failing"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing output folder"},
			jsonFlag(),
		}, configFlags()...),
		Action: func(ctx context.Context, c *cli.Command) error {
			opts, src, err := importOptions(c)
			if err != nil {
				return err
			}
			return runImport(ctx, c, src, opts)
		},
	})
}

func importOptions(c *cli.Command) (convert.ImportOptions, string, error) {
	if c.Args().Len() != 1 {
		return convert.ImportOptions{}, "", usagef("import takes one SRC argument, got %d", c.Args().Len())
	}
	if c.String("output") == "" {
		return convert.ImportOptions{}, "", usagef("import needs --output DIR")
	}
	opts := convert.ImportOptions{Output: c.String("output"), AllowExtra: c.Bool("allow-extra"), Force: c.Bool("force")}
	switch strings.ToLower(c.String("dtype")) {
	case "bf16", "bfloat16":
		opts.DType = formats.BF16
	case "f16", "fp16", "float16":
		opts.DType = formats.F16
	case "f32", "fp32", "float32":
		opts.DType = formats.F32
	default:
		return opts, "", usagef("--dtype %q: want bf16, f16 or f32", c.String("dtype"))
	}
	size, err := parseSize(c.String("max-shard-size"))
	if err != nil {
		return opts, "", usagef("--max-shard-size: %v", err)
	}
	opts.MaxShardSize = size
	if opts.Config, opts.Source, err = configOptions(c); err != nil {
		return opts, "", err
	}
	return opts, c.Args().First(), nil
}

func runImport(ctx context.Context, c *cli.Command, src string, opts convert.ImportOptions) error {
	if err := model.Require(src, model.ForImport); err != nil {
		return err
	}
	stderr := c.Root().ErrWriter
	if !c.Bool("json") {
		opts.Log = func(s string) { fmt.Fprintln(stderr, s) }
	}
	bar := newProgress(stderr, c.Bool("json"))
	opts.Progress = bar.Func("writing")
	res, err := convert.Import(ctx, src, opts)
	bar.Finish()
	if err != nil {
		return err
	}
	out := c.Root().Writer
	if c.Bool("json") {
		return printJSON(out, importJSON(res))
	}
	printImport(out, res)
	return nil
}

func importJSON(res *convert.ImportResult) map[string]any {
	return map[string]any{
		"path": res.Output, "source": res.Source, "config": res.Config,
		"hf_compatible": res.Config.HFCompatible(), "tensor_count": len(res.Manifest.Tensors),
		"parameters": res.Manifest.Params, "tensor_bytes": res.Manifest.TotalSize,
		"files": res.Manifest.Files, "notes": res.Manifest.Notes, "warnings": res.Manifest.Warnings,
	}
}

func printImport(w io.Writer, res *convert.ImportResult) {
	m := res.Manifest
	fmt.Fprintf(w, "imported %s (%s, %s layout)\n", res.Source.Path, res.Source.Format, res.Source.Layout)
	fmt.Fprintf(w, "config:  %s (from %s)\n", (&res.Config).Summary(), m.ConfigFrom)
	fmt.Fprintf(w, "output:  %s: %d tensors, %d parameters, %s (%s)\n", res.Output, len(m.Tensors), m.Params, humanBytes(m.TotalSize), m.Target.DType)
	for _, f := range m.Files {
		fmt.Fprintf(w, "  %-40s %12d  sha256 %s\n", f.Name, f.Size, f.SHA256[:16])
	}
	for _, n := range m.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
