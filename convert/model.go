package convert

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/reference"
)

// A LoadedModel is a canonical model opened for the forward pass: the
// safetensors shards stay mapped while it is in use.
type LoadedModel struct {
	*reference.Model
	Dir    string
	Format string // "safetensors", "gguf", "mlx"
	closer io.Closer
}

// Close unmaps the model's files.
func (m *LoadedModel) Close() error { return m.closer.Close() }

// Open loads a model for the forward pass from whatever path holds one: a
// canonical safetensors folder, an MLX folder, or a GGUF file.
func Open(path string, opts reference.Options) (*LoadedModel, error) {
	if strings.HasSuffix(strings.ToLower(path), ".gguf") {
		return LoadGGUF(path, opts)
	}
	if isMLX(path) {
		return LoadMLX(path, opts)
	}
	return LoadModel(path, opts)
}

// LoadModel opens a canonical model folder (config.json and safetensors
// shards, as Import writes them or as the HF release ships) for the
// reference forward pass. Weights are mapped, not copied.
func LoadModel(dir string, opts reference.Options) (*LoadedModel, error) {
	cb, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	cfg, _, err := ParseHFConfig(cb)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, filepath.Join(dir, "config.json"), err)
	}
	st, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	m, err := reference.Load(cfg, func(name string) (formats.Tensor, bool) { return st.Tensor(name) }, opts)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &LoadedModel{Model: m, Dir: dir, Format: "safetensors", closer: st}, nil
}
