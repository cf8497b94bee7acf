package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/reference"
)

// A Canonical is a canonical model folder (as Import writes it, or as the
// Hugging Face release ships) opened for streaming: its config and its
// safetensors shards, read with pread so that a pass over the model does not
// grow the process's resident memory.
type Canonical struct {
	Dir        string
	Config     reference.Config
	ConfigJSON []byte // config.json as stored
	Model      *safetensors.Model
	// View, when set, wraps every tensor Tensor returns: a reader that
	// several exports share (batch jobs read a source once for all targets).
	View func(formats.Tensor) formats.Tensor
}

// Tensor returns the named tensor of the model, through View when set.
func (c *Canonical) Tensor(name string) (formats.Tensor, bool) {
	t, ok := c.Model.Tensor(name)
	if ok && c.View != nil {
		t = c.View(t)
	}
	return t, ok
}

// OpenCanonical opens the canonical folder dir for streaming.
func OpenCanonical(dir string) (*Canonical, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is a file; a canonical model is a folder with config.json and safetensors shards (import a checkpoint to make one)", dir)
	}
	p := filepath.Join(dir, "config.json")
	cb, err := sidefile.Read(dir, "config.json")
	if err != nil {
		return nil, err
	}
	cfg, _, err := ParseHFConfig(cb)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, p, err)
	}
	st, err := safetensors.OpenModelWith(dir, safetensors.OpenOptions{NoMmap: true})
	if err != nil {
		return nil, err
	}
	return &Canonical{Dir: dir, Config: cfg, ConfigJSON: cb, Model: st}, nil
}

// Close closes the shards.
func (c *Canonical) Close() error { return c.Model.Close() }

// ReadManifest reads dir/manifest.json; it returns nil and no error when the
// folder has none (a folder not written by Import).
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, "manifest.json")
	b, err := sidefile.Read(dir, "manifest.json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &m, nil
}

// OwnFile reports whether name is a file that Import (or an MLX export)
// writes into a model folder: tensor files and the index, config.json,
// generation_config.json, the tokenizer files and manifest.json. With
// --force, only a folder holding nothing else is replaced.
func OwnFile(name string) bool {
	if safetensors.IsModelFile(name) || name == "config.json" || name == "generation_config.json" || name == "manifest.json" {
		return true
	}
	for _, t := range TokenizerFiles {
		if name == t {
			return true
		}
	}
	return false
}
