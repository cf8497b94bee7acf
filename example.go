// Package sambayconv holds what the whole module shares at its root: the
// example model (and its golden) that `sambay-conv pipeline` runs on when
// no source is given, and the PyTorch reference script, embedded so the
// binary needs nothing else.
package sambayconv

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

// The example is testdata/phi4flash-go: a small Phi-4-mini-flash-shaped
// SambaY model (8 layers, 0.54M parameters) trained on the Go standard
// library's source, as its training run left it: an ArchScale HEAD
// checkpoint (torch.save with model, optimizer state and hparams), the
// lit_gpt config of the run, and the byte-level BPE tokenizer trained on
// the same text. reference/torch/train_example.py writes all of it.
//
// The golden is the PyTorch reference's fp32 forward pass of the same
// weights, rounded to bf16 as the import stores them, on held-out tokens;
// heldout.go.txt is the held-out Go source the pipeline scores every
// output on.
//
//go:embed testdata/phi4flash-go/archscale-head.pth testdata/phi4flash-go/litgpt-config.json testdata/phi4flash-go/golden-fp32.safetensors
//go:embed testdata/phi4flash-go/tokenizer.json testdata/phi4flash-go/tokenizer_config.json testdata/phi4flash-go/heldout.go.txt
var example embed.FS

// TorchReference is reference/torch/sambay_ref.py, so that `verify --device
// cuda` can run it from an installed binary.
//
//go:embed reference/torch/sambay_ref.py
var TorchReference []byte

// Example file names inside the folder written by WriteExample.
const (
	ExampleCheckpoint = "archscale-head.pth"
	ExampleConfig     = "litgpt-config.json"
	ExampleGolden     = "golden-fp32.safetensors"
	ExampleText       = "heldout.go.txt" // held-out Go source, never trained on
)

// ExampleTextCtx is the example's training sequence length: the chunk
// length its perplexity is measured with. ExamplePrompt is the prompt of
// its samples.
const (
	ExampleTextCtx = 256
	ExamplePrompt  = "func main() {"
)

// exampleFiles are the embedded files WriteExample writes.
var exampleFiles = []string{ExampleCheckpoint, ExampleConfig, ExampleGolden, ExampleText, "tokenizer.json", "tokenizer_config.json"}

// WriteExample writes the example checkpoint, its config, tokenizer,
// golden and held-out text into dir.
func WriteExample(dir string) error {
	for _, name := range exampleFiles {
		b, err := fs.ReadFile(example, "testdata/phi4flash-go/"+name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
