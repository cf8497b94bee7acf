// Package model opens any model path the tool handles for the forward pass
// or for inspection: a canonical (Hugging Face layout) safetensors folder,
// an MLX folder, a GGUF file, and for inspection also the checkpoints that
// import reads. It is the one place that tells these apart, from their
// content, never from a file extension.
package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/reference"
)

// Kind is what a path holds.
type Kind string

// Kinds of paths.
const (
	KindFolder      Kind = "safetensors"      // a folder with config.json and safetensors shards (canonical or HF release)
	KindMLX         Kind = "mlx"              // an MLX folder (config.json with "quantization")
	KindGGUF        Kind = "gguf"             // a GGUF file
	KindSafetensors Kind = "safetensors-file" // one safetensors file
	KindTorchZip    Kind = "torch-zip"        // a torch.save zip (.pth, .bin, .pt)
	KindTorchLegacy Kind = "torch-legacy"     // a pre-1.6 torch.save pickle stream
	KindOther       Kind = "other"            // none of these
)

// Sniff tells what path holds from its content: the first bytes of a file,
// config.json of a folder.
func Sniff(path string) (Kind, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return KindOther, err
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "config.json")); errors.Is(err, fs.ErrNotExist) {
			return KindOther, nil
		} else if err != nil {
			return KindOther, err // names config.json: a link loop, a denied folder
		}
		mlx, err := mlxmodel.IsFolder(path)
		if err != nil {
			return KindOther, err
		}
		if mlx {
			return KindMLX, nil
		}
		return KindFolder, nil
	}
	if !fi.Mode().IsRegular() {
		return KindOther, fmt.Errorf("%s is not a regular file or folder", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return KindOther, err
	}
	defer f.Close()
	var b [9]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return KindOther, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case n >= 4 && string(b[:4]) == "GGUF":
		return KindGGUF, nil
	case n >= 4 && string(b[:4]) == "PK\x03\x04":
		return KindTorchZip, nil
	case n >= 2 && b[0] == 0x80 && b[1] <= 5:
		return KindTorchLegacy, nil // pickle PROTO opcode
	case n == 9 && b[8] == '{' && binary.LittleEndian.Uint64(b[:8]) < uint64(fi.Size()):
		return KindSafetensors, nil
	}
	return KindOther, nil
}

// A Loaded is a model opened for the forward pass; its files stay mapped
// (or open) while it is in use.
type Loaded struct {
	*reference.Model
	Path   string
	Format Kind // KindFolder, KindGGUF or KindMLX
	closer io.Closer
}

// Close releases the model's files.
func (m *Loaded) Close() error { return m.closer.Close() }

// Open loads a model for the forward pass from whatever path holds one: a
// canonical safetensors folder, an MLX folder, or a GGUF file.
func Open(path string, opts reference.Options) (*Loaded, error) {
	kind, err := Sniff(path)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindGGUF:
		m, f, err := ggufmodel.Load(path, opts)
		if err != nil {
			return nil, err
		}
		return &Loaded{Model: m, Path: path, Format: kind, closer: f}, nil
	case KindMLX:
		m, st, err := mlxmodel.Load(path, opts)
		if err != nil {
			return nil, err
		}
		return &Loaded{Model: m, Path: path, Format: kind, closer: st}, nil
	case KindFolder:
		return openFolder(path, opts)
	}
	return nil, fmt.Errorf("%s is %s, not a model the forward pass reads (a canonical safetensors folder, an MLX folder or a GGUF file); import a checkpoint first: sambay-conv import %s -o DIR", path, describe(kind), path)
}

// describe says what a kind is, for messages.
func describe(k Kind) string {
	switch k {
	case KindSafetensors:
		return "a single safetensors file"
	case KindTorchZip:
		return "a torch.save checkpoint"
	case KindTorchLegacy:
		return "a legacy torch.save pickle"
	case KindFolder:
		return "a safetensors model folder"
	}
	return "neither a model folder nor a known checkpoint file"
}

// openFolder opens a canonical model folder (config.json and safetensors
// shards, as Import writes them or as the HF release ships) for the
// reference forward pass. Weights are mapped, not copied.
func openFolder(dir string, opts reference.Options) (*Loaded, error) {
	p := filepath.Join(dir, "config.json")
	cb, err := sidefile.Read(dir, "config.json")
	if err != nil {
		return nil, err
	}
	cfg, _, err := convert.ParseHFConfig(cb)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", convert.ErrConfig, p, err)
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
	return &Loaded{Model: m, Path: dir, Format: KindFolder, closer: st}, nil
}

// A Use is what a command does with its input path.
type Use int

// Uses.
const (
	ForImport  Use = iota // a checkpoint: torch.save zip, safetensors file, HF or canonical folder
	ForQuant              // a canonical (HF layout) model folder
	ForGeneric            // any safetensors file or folder (quant --generic)
)

// Require checks, from its content, that path holds what a command needs,
// and otherwise says what it holds and which command takes it.
func Require(path string, use Use) error {
	kind, err := Sniff(path)
	if err != nil {
		return err
	}
	ok := map[Use][]Kind{
		ForImport:  {KindTorchZip, KindTorchLegacy, KindSafetensors, KindFolder},
		ForQuant:   {KindFolder},
		ForGeneric: {KindSafetensors, KindFolder, KindMLX},
	}[use]
	for _, k := range ok {
		if k == kind {
			return nil
		}
	}
	what := map[Use]string{ForImport: "import reads checkpoints (torch.save .pth/.bin, safetensors, a Hugging Face folder)",
		ForQuant:   "quant reads a canonical model folder",
		ForGeneric: "quant --generic reads safetensors files or folders"}[use]
	switch kind {
	case KindGGUF:
		return fmt.Errorf("%s is a GGUF file; %s — to inspect it: sambay-conv inspect %s; to compare it with its original: sambay-conv verify %s --against ORIGINAL --tokens …", path, what, path, path)
	case KindMLX:
		return fmt.Errorf("%s is an MLX folder; %s — to inspect it: sambay-conv inspect %s; to compare it with its original: sambay-conv verify %s --against ORIGINAL --tokens …", path, what, path, path)
	case KindTorchZip, KindTorchLegacy, KindSafetensors:
		return fmt.Errorf("%s is %s; %s — import it first: sambay-conv import %s -o DIR", path, describe(kind), what, path)
	}
	return fmt.Errorf("%s is %s; %s", path, describe(kind), what)
}
