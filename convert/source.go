package convert

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/formats/torchpth"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/layout"
)

// Source formats and layouts.
const (
	FormatSafetensors = "hf-safetensors"
	FormatPth         = "archscale-pth"
	FormatStateDict   = "torch-state-dict"

	LayoutHF        = "hf"
	LayoutSeparate  = "archscale-separate" // ArchScale HEAD: q_proj / k_proj / v_proj
	LayoutFused     = "archscale-fused"    // ArchScale paper era (or HEAD separate_qkv=False): attn.attn
	LayoutArchScale = "archscale"          // ArchScale names without attention layers to tell
)

// TokenizerFiles are the tokenizer files carried from a source folder to
// the canonical output (and from there into GGUF metadata and MLX folders).
var TokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt"}

// A Source is an opened checkpoint: its tensors by source name (lazy), what
// it says about itself, and the files it was read from.
type Source struct {
	Path    string
	Format  string
	Layout  string
	Tensors map[string]formats.Tensor
	Names   []string // sorted
	Files   []string // files holding tensors or config
	// Hparams, IterNum, StepCount come from an ArchScale state.
	Hparams            map[string]any
	IterNum, StepCount *int64
	// HFConfig and GenConfig are config.json / generation_config.json found
	// beside a Hugging Face layout checkpoint, or nil.
	HFConfig, GenConfig []byte
	// Tokenizer holds the tokenizer files (TokenizerFiles) found beside the
	// checkpoint, or in SourceOptions.TokenizerDir, copied into the
	// canonical output.
	Tokenizer map[string][]byte
	Warnings  []string
	Skipped   []string // state-dict entries ignored on purpose

	pth *torchpth.File
	st  *safetensors.Model
}

// SourceOptions control OpenSource.
type SourceOptions struct {
	PickleAllowUnknown bool // torchpth.Options.AllowUnknownGlobals
	VerifyCRC          bool
	// TokenizerDir, when set, is the folder the tokenizer files are read
	// from instead of the checkpoint's own (a training checkpoint rarely
	// sits beside its tokenizer); it must hold tokenizer.json or
	// vocab.json with merges.txt.
	TokenizerDir string
}

// Close releases the source's files.
func (s *Source) Close() error {
	if s.pth != nil {
		return s.pth.Close()
	}
	if s.st != nil {
		return s.st.Close()
	}
	return nil
}

// SameStorage reports whether two tensors of a .pth are one storage view.
func (s *Source) SameStorage(a, b string) bool { return s.pth != nil && s.pth.SameView(a, b) }

// OpenSource opens a checkpoint: a folder with safetensors (sharded or not)
// or with pytorch_model.bin, a .safetensors or index file, or a torch.save
// file (.pth, .pt, .bin, .ckpt, or anything starting with a zip header).
func OpenSource(path string, o SourceOptions) (*Source, error) {
	s, err := openSource(path, o)
	if err != nil || o.TokenizerDir == "" {
		return s, err
	}
	s.Tokenizer = nil
	if fi, err := os.Stat(o.TokenizerDir); err != nil || !fi.IsDir() {
		s.Close()
		return nil, fmt.Errorf("tokenizer folder %s: not a folder", o.TokenizerDir)
	}
	if err := readTokenizer(s, o.TokenizerDir); err != nil {
		s.Close()
		return nil, err
	}
	_, hasJSON := s.Tokenizer["tokenizer.json"]
	_, hasVocab := s.Tokenizer["vocab.json"]
	_, hasMerges := s.Tokenizer["merges.txt"]
	if !hasJSON && !(hasVocab && hasMerges) {
		s.Close()
		return nil, fmt.Errorf("tokenizer folder %s: no tokenizer.json and no vocab.json with merges.txt", o.TokenizerDir)
	}
	return s, nil
}

func openSource(path string, o SourceOptions) (*Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	dir := path
	if fi.IsDir() {
		if has(filepath.Join(path, safetensors.IndexName)) || globAny(path, "*.safetensors") {
			return openSafetensors(path, path)
		}
		if p := filepath.Join(path, "pytorch_model.bin"); has(p) {
			return openPth(p, path, o)
		}
		return nil, fmt.Errorf("%s: no safetensors checkpoint and no pytorch_model.bin in this folder", path)
	}
	dir = filepath.Dir(path)
	if strings.HasSuffix(path, ".safetensors") || strings.HasSuffix(path, ".json") {
		return openSafetensors(path, dir)
	}
	return openPth(path, dir, o)
}

func has(p string) bool { _, err := os.Stat(p); return err == nil }

func globAny(dir, pat string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, pat))
	return len(m) > 0
}

// readOptional reads a side file of dir: nil when it does not exist; an
// error when it is not a regular file, leads outside the folder or is too
// large (it would otherwise hang the import or be copied into the output).
func readOptional(dir, name string) ([]byte, error) {
	b, err := sidefile.Read(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// readSide reads the config, generation config and tokenizer files beside
// a Hugging Face layout checkpoint; a missing one is skipped.
func readSide(s *Source, dir string) error {
	b, err := readOptional(dir, "config.json")
	if err != nil {
		return err
	}
	if b != nil {
		s.HFConfig = b
		s.Files = append(s.Files, filepath.Join(dir, "config.json"))
	}
	if s.GenConfig, err = readOptional(dir, "generation_config.json"); err != nil {
		return err
	}
	return readTokenizer(s, dir)
}

// readTokenizer reads the tokenizer files of dir; a missing one is skipped.
func readTokenizer(s *Source, dir string) error {
	for _, f := range TokenizerFiles {
		b, err := readOptional(dir, f)
		if err != nil {
			return err
		}
		if b != nil {
			if s.Tokenizer == nil {
				s.Tokenizer = map[string][]byte{}
			}
			s.Tokenizer[f] = b
		}
	}
	return nil
}

func openSafetensors(path, dir string) (*Source, error) {
	m, err := safetensors.OpenModelWith(path, safetensors.OpenOptions{NoMmap: true})
	if err != nil {
		return nil, err
	}
	s := &Source{Path: path, Format: FormatSafetensors, st: m, Tensors: make(map[string]formats.Tensor, len(m.Tensors)), Warnings: m.Warnings}
	for _, f := range m.Files {
		s.Files = append(s.Files, f.Name)
	}
	if strings.HasSuffix(m.Path, ".json") {
		s.Files = append(s.Files, m.Path)
	}
	for _, t := range m.Tensors {
		s.Tensors[t.Name] = t
	}
	if err := readSide(s, dir); err != nil {
		s.Close()
		return nil, err
	}
	s.finish()
	return s, nil
}

func openPth(path, dir string, o SourceOptions) (*Source, error) {
	f, err := torchpth.Open(path, torchpth.Options{AllowUnknownGlobals: o.PickleAllowUnknown, VerifyCRC: o.VerifyCRC, NoMmap: true})
	if err != nil {
		return nil, err
	}
	s := &Source{Path: path, Format: FormatPth, pth: f, Tensors: map[string]formats.Tensor{}, Files: []string{path},
		Hparams: f.Hparams, IterNum: f.IterNum, StepCount: f.StepCount, Skipped: f.Skipped}
	if f.StateKey == "" {
		s.Format = FormatStateDict
	}
	for _, t := range f.Tensors {
		s.Tensors[t.Name] = t
	}
	s.finish()
	// A config.json beside an ArchScale checkpoint describes something
	// else; tokenizer files beside one are the run's tokenizer.
	side := readTokenizer
	if s.Layout == LayoutHF {
		side = readSide
	}
	if err := side(s, dir); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Source) finish() {
	for n := range s.Tensors {
		s.Names = append(s.Names, n)
	}
	sort.Strings(s.Names)
	s.Layout = detectLayout(s.Names)
}

// detectLayout tells the naming from the keys: HF names start with
// "model."; ArchScale names with "transformer."; among ArchScale files,
// attn.attn.weight marks the fused projection and attn.q_proj.weight the
// separate one (docs/MODEL.md §5.3).
func detectLayout(names []string) string {
	qkv := layout.Get("self.qkv.weight")
	fusedSuffix, sepSuffix := layout.Suffix(qkv.Fused), layout.Suffix(qkv.ArchScale)
	var hf, as, fused, sep bool
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, layout.CanonicalPrefix):
			hf = true
		case strings.HasPrefix(n, layout.ArchScalePrefix):
			as = true
		}
		if strings.HasSuffix(n, fusedSuffix) {
			fused = true
		}
		if strings.HasSuffix(n, sepSuffix) {
			sep = true
		}
	}
	switch {
	case hf && !as:
		return LayoutHF
	case as && !hf && fused && !sep:
		return LayoutFused
	case as && !hf && sep && !fused:
		return LayoutSeparate
	case as && !hf && !sep && !fused:
		return LayoutArchScale
	case as && fused && sep:
		return "mixed"
	}
	return "unknown"
}
