package convert

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/reference"
)

// A LoadedModel is a canonical model opened for the forward pass: the
// safetensors shards stay mapped while it is in use.
type LoadedModel struct {
	*reference.Model
	Dir string
	st  *safetensors.Model
}

// Close unmaps the model's files.
func (m *LoadedModel) Close() error { return m.st.Close() }

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
	return &LoadedModel{Model: m, Dir: dir, st: st}, nil
}
