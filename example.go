// Package sambayconv holds what the whole module shares at its root: the
// tiny example checkpoint that `sambay-conv pipeline` runs on when no source
// is given, embedded so the binary needs nothing else.
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
//go:embed testdata/phi4flash-tiny/archscale-head.pth testdata/phi4flash-tiny/litgpt-config.json
var example embed.FS

// Example file names inside the folder written by WriteExample.
const (
	ExampleCheckpoint = "archscale-head.pth"
	ExampleConfig     = "litgpt-config.json"
)

// WriteExample writes the example checkpoint and its config into dir.
func WriteExample(dir string) error {
	for _, name := range []string{ExampleCheckpoint, ExampleConfig} {
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
