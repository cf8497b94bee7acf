// Package sambayconv holds what the whole module shares at its root: the
// tiny example checkpoint (and its golden) that `sambay-conv pipeline` runs
// on when no source is given, and the PyTorch reference script, embedded so
// the binary needs nothing else.
package sambayconv

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

// The example is testdata/phi4flash-tiny: an ArchScale HEAD training
// checkpoint (torch.save with model, optimizer state and hparams) of a
// Phi-4-mini-flash-shaped model with 8 layers, and the lit_gpt config of its
// run. reference/torch/make_fixtures.py writes both.
//
// The golden is the PyTorch reference's fp32 forward pass of the same
// weights (reference/torch/sambay_ref.py on testdata/phi4flash-tiny/hf).
//
//go:embed testdata/phi4flash-tiny/archscale-head.pth testdata/phi4flash-tiny/litgpt-config.json testdata/phi4flash-tiny/golden-fp32.safetensors
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
)

// WriteExample writes the example checkpoint, its config and its golden into dir.
func WriteExample(dir string) error {
	for _, name := range []string{ExampleCheckpoint, ExampleConfig, ExampleGolden} {
		b, err := fs.ReadFile(example, "testdata/phi4flash-tiny/"+name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
