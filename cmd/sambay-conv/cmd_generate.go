package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/sambay-conv/sambay-conv/chat"
	"github.com/sambay-conv/sambay-conv/generate"
	"github.com/sambay-conv/sambay-conv/reference"
)

func generateCommand() *cli.Command {
	return withUsage(&cli.Command{
		Name:      "generate",
		Usage:     "generate text from a canonical, GGUF or MLX model (greedy, or sampled with a seed)",
		ArgsUsage: "MODEL --prompt TEXT\n\n   generate MODEL --prompt 'func main() {' -n 64\n   generate MODEL --prompt TEXT --temp 0.8 --top-p 0.95 --seed 1 --stop $'\\n\\n'\n   generate MODEL --chat [--system TEXT] --prompt 'What is a goroutine?'",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "prompt", Usage: "the text to continue (special tokens such as <|user|> in it are tokens); with --chat the user's message"},
			&cli.BoolFlag{Name: "chat", Usage: "render --prompt as a user turn (after --system) through the model's chat template, and answer it"},
			&cli.StringFlag{Name: "system", Usage: "--chat: a system message before the user's"},
			&cli.IntFlag{Name: "n", Value: 128, Usage: "tokens to generate at most"},
			&cli.FloatFlag{Name: "temp", Usage: "temperature; 0 (the default) is greedy decoding"},
			&cli.IntFlag{Name: "top-k", Usage: "sample from the k most likely tokens (0: all)"},
			&cli.FloatFlag{Name: "top-p", Value: 1, Usage: "sample from the most likely tokens whose probabilities sum to p"},
			&cli.FloatFlag{Name: "min-p", Usage: "drop tokens less likely than min-p × the most likely one's probability"},
			&cli.Uint64Flag{Name: "seed", Usage: "seed of the sampler (the same seed gives the same text)"},
			&cli.StringSliceFlag{Name: "stop", Usage: "stop before this text; repeatable"},
			&cli.BoolFlag{Name: "exact-dot", Usage: "multiply quantized matrices (GGUF, MLX 4/8-bit) by rows widened to float32, without quantizing the activation as llama.cpp does"},
			&cli.BoolFlag{Name: "quiet", Usage: "print only the generated text, not the speed line"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object at the end (prompt and decode tokens/s, the ids and the text) instead of streaming"},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("generate takes one MODEL argument, got %d", c.Args().Len())
			}
			if !c.IsSet("prompt") || c.String("prompt") == "" {
				return usagef("generate needs --prompt TEXT")
			}
			o := generate.Options{Model: c.Args().First(), Prompt: c.String("prompt"), MaxTokens: int(c.Int("n")),
				Temp: c.Float("temp"), TopK: int(c.Int("top-k")), TopP: c.Float("top-p"), MinP: c.Float("min-p"),
				Seed: c.Uint64("seed"), Stop: c.StringSlice("stop"), Reference: reference.Options{ExactDot: c.Bool("exact-dot")}}
			if c.IsSet("system") && !c.Bool("chat") {
				return usagef("--system goes with --chat")
			}
			if c.Bool("chat") {
				if c.IsSet("system") {
					o.Messages = append(o.Messages, chat.Message{Role: "system", Content: c.String("system")})
				}
				o.Messages = append(o.Messages, chat.Message{Role: "user", Content: o.Prompt})
			}
			if c.Int("n") < 1 {
				return usagef("-n %d: want at least 1 token", c.Int("n"))
			}
			if err := o.Check(); err != nil {
				return usagef("%v", err)
			}
			w := c.Root().Writer
			out := w
			if c.Bool("json") {
				out = io.Discard
			}
			res, err := generate.Run(ctx, o, out)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(w, res)
			}
			fmt.Fprintln(w)
			if !c.Bool("quiet") {
				fmt.Fprintf(c.Root().ErrWriter, "%d prompt tokens at %.1f tokens/s, %d generated at %.1f tokens/s (%s)\n",
					res.PromptTokens, res.PromptPerSec, len(res.Tokens), res.DecodePerSec, res.StopReason)
			}
			return nil
		},
	})
}
