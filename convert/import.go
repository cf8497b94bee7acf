package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/reference"
)

// Version is the tool version recorded in manifests.
const Version = "0.1.0"

// ImportOptions control Import.
type ImportOptions struct {
	Output       string        // destination folder
	DType        formats.DType // BF16 (default), F16 or F32; A_log and λ stay F32 unless F32 is chosen anyway
	MaxShardSize int64         // 0: safetensors.DefaultMaxShardSize
	Config       ConfigOptions
	Source       SourceOptions
	AllowExtra   bool // drop unexpected source tensors with a warning instead of failing
	Force        bool // replace an existing output folder
	// Progress, when set, receives the bytes written so far and the total.
	Progress func(done, total int64)
	// Log, when set, receives one line per decision worth telling the user.
	Log func(string)
}

// ImportResult describes a finished import.
type ImportResult struct {
	Output   string
	Source   *SourceInfo
	Config   reference.Config
	Manifest *Manifest
}

// SourceInfo summarises a source for reports.
type SourceInfo struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	Layout string `json:"layout"`
}

// Manifest is manifest.json of a canonical output folder: what was read,
// how it was decided, and a digest of every tensor and file written.
type Manifest struct {
	Tool       string           `json:"tool"`
	Version    string           `json:"version"`
	Source     ManifestSource   `json:"source"`
	Target     ManifestTarget   `json:"target"`
	Config     reference.Config `json:"config"`
	ConfigFrom string           `json:"config_from"`
	Log        []string         `json:"log,omitempty"`
	Notes      []string         `json:"notes,omitempty"`
	Warnings   []string         `json:"warnings,omitempty"`
	Ignored    []string         `json:"ignored_source_tensors,omitempty"`
	Tensors    []ManifestTensor `json:"tensors"`
	Files      []ManifestFile   `json:"files"`
	Params     int64            `json:"parameters"`
	TotalSize  int64            `json:"total_size"`
	Hparams    map[string]any   `json:"hparams,omitempty"`
	Provenance map[string]any   `json:"provenance,omitempty"`
}

// ManifestSource lists the source files with their digests.
type ManifestSource struct {
	Path   string         `json:"path"`
	Format string         `json:"format"`
	Layout string         `json:"layout"`
	Files  []ManifestFile `json:"files"`
}

// ManifestTarget is what the output is.
type ManifestTarget struct {
	Layout string `json:"layout"`
	DType  string `json:"dtype"`
}

// ManifestTensor is one written tensor.
type ManifestTensor struct {
	Name   string   `json:"name"`
	Source []string `json:"source"`
	DType  string   `json:"dtype"`
	Shape  []int64  `json:"shape"`
	File   string   `json:"file"`
	SHA256 string   `json:"sha256"`
	Note   string   `json:"note,omitempty"`
}

// ManifestFile is one file with its size and digest. For a torch.save
// source, SHA256 covers data.pkl and the storages the model uses, not the
// optimizer state the import never reads (ContentOnly is then true).
type ManifestFile struct {
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentOnly bool   `json:"sha256_model_content_only,omitempty"`
}

// Import reads the checkpoint at srcPath, resolves its configuration,
// validates it and writes the canonical layout to opts.Output: sharded
// safetensors + index, config.json, generation_config.json when known, and
// manifest.json. Nothing appears at the output path unless everything
// succeeded.
func Import(ctx context.Context, srcPath string, opts ImportOptions) (*ImportResult, error) {
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			opts.Log(fmt.Sprintf(format, args...))
		}
	}
	if opts.DType == formats.Invalid {
		opts.DType = formats.BF16
	}
	switch opts.DType {
	case formats.BF16, formats.F16, formats.F32:
	default:
		return nil, fmt.Errorf("output dtype %v not supported (bf16, f16, f32)", opts.DType)
	}
	if opts.Output == "" {
		return nil, errors.New("no output folder given")
	}
	src, err := OpenSource(srcPath, opts.Source)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	rc, err := ResolveConfig(src, opts.Config)
	if err != nil {
		return nil, err
	}
	for _, l := range rc.Log {
		logf("config: %s", l)
	}
	cfg := rc.Config
	mapped, notes, extra, err := Canonicalize(&cfg, src)
	if err != nil {
		return nil, err
	}
	var warnings []string
	warnings = append(warnings, src.Warnings...)
	if len(extra) > 0 {
		if !opts.AllowExtra {
			return nil, fmt.Errorf("%w: %s has %d tensor(s) the config does not use: %s%s", ErrValidation, src.Path, len(extra), strings.Join(first(extra, 8), ", "), extraHint(extra))
		}
		warnings = append(warnings, fmt.Sprintf("ignored %d source tensor(s) the config does not use (--allow-extra): %s", len(extra), strings.Join(first(extra, 8), ", ")))
	}
	if !cfg.HFCompatible() {
		warnings = append(warnings, "this model is not Phi4Flash-compatible (see sambay_* keys in config.json): the Hugging Face remote code cannot run it; sambay-conv can")
	}
	for _, w := range warnings {
		logf("warning: %s", w)
	}
	// Output dtypes: A_log and λ stay F32 like the release (spec model.md §6.1).
	var out []formats.Tensor
	bySource := map[string]Mapped{}
	var total int64
	for _, m := range mapped {
		dt := opts.DType
		if m.Spec.KeepF32 {
			dt = formats.F32
		}
		t := formats.Converted(m.T, dt)
		t.Name = m.Spec.Name
		out = append(out, t)
		bySource[m.Spec.Name] = m
		total += t.Size()
	}
	pd, err := newPendingDir(opts.Output, opts.Force)
	if err != nil {
		return nil, err
	}
	defer pd.Cleanup()
	// Source digests run beside the write, on another core.
	type hashed struct {
		files []ManifestFile
		err   error
	}
	hashc := make(chan hashed, 1)
	go func() {
		f, err := hashSources(src)
		hashc <- hashed{f, err}
	}()
	defer func() { <-hashc }()
	var done int64
	wopts := safetensors.WriteOptions{
		MaxShardSize: opts.MaxShardSize, Metadata: map[string]string{"format": "pt"},
		RejectNonFinite: true, Ctx: ctx,
		Progress: func(n int64) {
			done += n
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		},
	}
	wr, err := safetensors.WriteModel(pd.tmp, out, wopts)
	if err != nil {
		var fe *formats.FormatError
		if errors.As(err, &fe) && fe.Tensor != "" {
			if m, ok := bySource[fe.Tensor]; ok {
				return nil, fmt.Errorf("%w: %s (from %s in %s): %s", ErrValidation, fe.Tensor, strings.Join(m.From, ", "), m.T.File, fe.Msg)
			}
		}
		return nil, err
	}
	source := map[string]any{"format": src.Format, "path": filepath.Base(src.Path)}
	if n := hpStr(src.Hparams, "model_name"); n != "" {
		source["model_name"] = n
	}
	if n := hpStr(src.Hparams, "train_config"); n != "" {
		source["train_config"] = n
	}
	if src.IterNum != nil {
		source["iter_num"] = *src.IterNum
	}
	files := wr.Files
	cfgJSON := HFConfigJSON(&cfg, rc.Extra, source)
	if err := writeFileSync(filepath.Join(pd.tmp, "config.json"), cfgJSON); err != nil {
		return nil, err
	}
	files = append(files, fileEntry("config.json", cfgJSON))
	if src.GenConfig != nil {
		if err := writeFileSync(filepath.Join(pd.tmp, "generation_config.json"), src.GenConfig); err != nil {
			return nil, err
		}
		files = append(files, fileEntry("generation_config.json", src.GenConfig))
	}
	man := &Manifest{
		Tool: "sambay-conv", Version: Version,
		Source: ManifestSource{Path: src.Path, Format: src.Format, Layout: src.Layout},
		Target: ManifestTarget{Layout: "hf-phi4flash", DType: strings.ToLower(opts.DType.String())},
		Config: cfg, ConfigFrom: rc.From, Log: rc.Log, Notes: notes, Warnings: warnings, Ignored: extra,
		Params: cfg.NumParams(), TotalSize: wr.TotalSize, Hparams: src.Hparams,
	}
	if src.IterNum != nil || src.StepCount != nil {
		man.Provenance = map[string]any{}
		if src.IterNum != nil {
			man.Provenance["iter_num"] = *src.IterNum
		}
		if src.StepCount != nil {
			man.Provenance["step_count"] = *src.StepCount
		}
	}
	h := <-hashc
	hashc <- h
	if h.err != nil {
		return nil, h.err
	}
	man.Source.Files = h.files
	for _, wt := range wr.Tensors {
		m := bySource[wt.Name]
		man.Tensors = append(man.Tensors, ManifestTensor{Name: wt.Name, Source: m.From, DType: wt.DType.String(),
			Shape: wt.Shape, File: wt.File, SHA256: wt.SHA256, Note: m.Note})
	}
	for _, f := range files {
		man.Files = append(man.Files, ManifestFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256})
	}
	mj, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(pd.tmp, "manifest.json"), append(mj, '\n')); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := pd.Commit(); err != nil {
		return nil, err
	}
	logf("wrote %s: %d tensors, %d bytes", opts.Output, len(man.Tensors), man.TotalSize)
	return &ImportResult{Output: opts.Output, Source: &SourceInfo{Path: src.Path, Format: src.Format, Layout: src.Layout}, Config: cfg, Manifest: man}, nil
}

func fileEntry(name string, data []byte) safetensors.WrittenFile {
	s := sha256.Sum256(data)
	return safetensors.WrittenFile{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(s[:])}
}

func first(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("… (%d more)", len(s)-n))
}

func extraHint(extra []string) string {
	for _, e := range extra {
		if strings.HasSuffix(e, ".bias") {
			return ` (biases the config does not expect: was the run a "_bias" run? pass --config with bias/attn_bias set, or --allow-extra to drop them)`
		}
	}
	return " (pass --allow-extra to drop them)"
}

// hashSources digests the source files. Safetensors files are hashed whole;
// a torch.save file is digested over the tensors the model uses (in
// canonical order), so its optimizer state is never read.
func hashSources(src *Source) ([]ManifestFile, error) {
	var out []ManifestFile
	if src.pth != nil {
		h := sha256.New()
		names := append([]string{}, src.Names...)
		sort.Strings(names)
		for _, n := range names {
			t := src.Tensors[n]
			io.WriteString(h, n)
			if _, err := io.Copy(h, t.Reader()); err != nil {
				return nil, err
			}
		}
		fi, err := os.Stat(src.Path)
		if err != nil {
			return nil, err
		}
		out = append(out, ManifestFile{Name: src.Path, Size: fi.Size(), SHA256: hex.EncodeToString(h.Sum(nil)), ContentOnly: true})
		for _, f := range src.Files[1:] {
			mf, err := hashFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, mf)
		}
		return out, nil
	}
	for _, f := range src.Files {
		mf, err := hashFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, mf)
	}
	return out, nil
}

func hashFile(path string) (ManifestFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return ManifestFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return ManifestFile{}, fmt.Errorf("%s: %w", path, err)
	}
	return ManifestFile{Name: path, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
