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
	"sync/atomic"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
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

// ManifestFile is one file with its size and digest. Digest says what
// SHA256 covers: "" the file's bytes; "safetensors-content" the
// safetensors.ContentDigest (header, then each tensor's sha256), which
// needs no second pass over the data; "state-dict-content" the names and
// tensor digests of a torch.save state dict (the optimizer state is never
// read).
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Digest string `json:"digest,omitempty"`
}

// Import reads the checkpoint at srcPath, resolves its configuration,
// validates it and writes the canonical layout to opts.Output: sharded
// safetensors + index, config.json, generation_config.json when known, and
// manifest.json. Nothing appears at the output path unless everything
// succeeded.
func Import(ctx context.Context, srcPath string, opts ImportOptions) (*ImportResult, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	src, err := OpenSource(srcPath, opts.Source)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	job := &importJob{opts: &opts, src: src}
	if err := job.plan(); err != nil {
		return nil, err
	}
	lock, err := atomicfile.Acquire(opts.Output)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	pd, err := atomicfile.NewDir(opts.Output, opts.Force, OwnFile)
	if err != nil {
		return nil, err
	}
	defer pd.Cleanup()
	// Source digests are computed beside the write; an early return stops
	// the hashing before the source closes.
	hctx, stopHashing := context.WithCancel(ctx)
	defer stopHashing()
	digests := job.hashSources(hctx)
	defer digests.drain()
	wr, err := job.writeTensors(ctx, pd.Path())
	if err != nil && !errors.Is(err, ErrValidation) && !errors.Is(err, formats.ErrFormat) {
		return nil, fmt.Errorf("writing %s: %w", opts.Output, err) // a full disk, a read-only folder
	}
	if err != nil {
		return nil, err
	}
	files, err := job.writeSideFiles(pd.Path(), wr.Files)
	if err != nil {
		return nil, err
	}
	h := digests.wait()
	if h.err != nil {
		return nil, h.err
	}
	man, err := job.manifest(wr, files, h.digests)
	if err != nil {
		return nil, err
	}
	mj, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFileSync(filepath.Join(pd.Path(), "manifest.json"), append(mj, '\n')); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := pd.Commit(); err != nil {
		return nil, err
	}
	job.logf("wrote %s: %d tensors, %d bytes", opts.Output, len(man.Tensors), man.TotalSize)
	return &ImportResult{Output: opts.Output, Source: &SourceInfo{Path: src.Path, Format: src.Format, Layout: src.Layout}, Config: job.cfg, Manifest: man}, nil
}

// check fills defaults and refuses options no import can satisfy.
func (o *ImportOptions) check() error {
	if o.DType == formats.Invalid {
		o.DType = formats.BF16
	}
	switch o.DType {
	case formats.BF16, formats.F16, formats.F32:
	default:
		return fmt.Errorf("output dtype %v not supported (bf16, f16, f32)", o.DType)
	}
	if o.Output == "" {
		return errors.New("no output folder given")
	}
	return nil
}

// An importJob is one import between opening its source and committing
// its output folder.
type importJob struct {
	opts     *ImportOptions
	src      *Source
	rc       *ResolvedConfig
	cfg      reference.Config
	mapped   []Mapped
	bySource map[string]Mapped // canonical name → how it was made
	notes    []string
	extra    []string // source tensors the config does not use
	warnings []string
	reuse    map[string]string // source name → output name with identical bytes
}

func (j *importJob) logf(format string, args ...any) {
	if j.opts.Log != nil {
		j.opts.Log(fmt.Sprintf(format, args...))
	}
}

// plan resolves the configuration and maps the source onto the canonical
// tensor set, refusing unused source tensors unless AllowExtra.
func (j *importJob) plan() error {
	var err error
	if j.rc, err = ResolveConfig(j.src, j.opts.Config); err != nil {
		return err
	}
	for _, l := range j.rc.Log {
		j.logf("config: %s", l)
	}
	j.cfg = j.rc.Config
	if j.mapped, j.notes, j.extra, err = Canonicalize(&j.cfg, j.src); err != nil {
		return err
	}
	j.warnings = append(j.warnings, j.src.Warnings...)
	if n := len(j.extra); n > 0 {
		if !j.opts.AllowExtra {
			return fmt.Errorf("%w: %s has %d tensor(s) the config does not use: %s%s", ErrValidation, j.src.Path, n, strings.Join(first(j.extra, 8), ", "), extraHint(j.extra))
		}
		j.warnings = append(j.warnings, fmt.Sprintf("ignored %d source tensor(s) the config does not use (--allow-extra): %s", n, strings.Join(first(j.extra, 8), ", ")))
	}
	if !j.cfg.HFCompatible() {
		j.warnings = append(j.warnings, "this model is not Phi4Flash-compatible (see sambay_* keys in config.json): the Hugging Face remote code cannot run it; sambay-conv can")
	}
	for _, w := range j.warnings {
		j.logf("warning: %s", w)
	}
	j.bySource = map[string]Mapped{}
	j.reuse = map[string]string{}
	for _, m := range j.mapped {
		j.bySource[m.Spec.Name] = m
		// A source tensor copied unchanged has the digest of its output tensor.
		if len(m.From) == 1 && m.Note == "" {
			if st, ok := j.src.Tensors[m.From[0]]; ok && st.DType == outDType(m, j.opts.DType) {
				j.reuse[m.From[0]] = m.Spec.Name
			}
		}
	}
	return nil
}

// sourceHashes delivers the digests of the source tensors that are not
// copied unchanged, hashed by a goroutine beside the write.
type sourceHashes chan hashed

type hashed struct {
	digests map[string][]byte
	err     error
}

func (j *importJob) hashSources(ctx context.Context) sourceHashes {
	c := make(sourceHashes, 1)
	go func() {
		d, err := hashTensors(ctx, j.src, j.reuse)
		c <- hashed{d, err}
	}()
	return c
}

// wait returns the digests, leaving them for drain.
func (c sourceHashes) wait() hashed {
	h := <-c
	c <- h
	return h
}

// drain takes the result if it is there (deferred: the hashing goroutine
// never blocks).
func (c sourceHashes) drain() {
	select {
	case <-c:
	default:
	}
}

// writeTensors writes the canonical tensors (A_log and λ stay F32 like the
// release, docs/MODEL.md §6.1) into dir, checking every value is finite.
func (j *importJob) writeTensors(ctx context.Context, dir string) (*safetensors.WriteResult, error) {
	var out []formats.Tensor
	var total int64
	for _, m := range j.mapped {
		t := formats.Converted(m.T, outDType(m, j.opts.DType))
		t.Name = m.Spec.Name
		out = append(out, t)
		total += t.Size()
	}
	var done atomic.Int64
	wopts := safetensors.WriteOptions{
		MaxShardSize: j.opts.MaxShardSize, Metadata: map[string]string{"format": "pt"},
		RejectNonFinite: true, Ctx: ctx,
		Progress: func(n int64) {
			d := done.Add(n)
			if j.opts.Progress != nil {
				j.opts.Progress(d, total)
			}
		},
	}
	wr, err := safetensors.WriteModel(dir, out, wopts)
	if err != nil {
		var fe *formats.FormatError
		if errors.As(err, &fe) && fe.Tensor != "" {
			if m, ok := j.bySource[fe.Tensor]; ok {
				return nil, fmt.Errorf("%w: %s (from %s in %s): %s", ErrValidation, fe.Tensor, strings.Join(m.From, ", "), m.T.File, fe.Msg)
			}
		}
		return nil, err
	}
	return wr, nil
}

// writeSideFiles writes config.json, generation_config.json and the
// tokenizer files into dir and returns every written file.
func (j *importJob) writeSideFiles(dir string, files []safetensors.WrittenFile) ([]safetensors.WrittenFile, error) {
	src := j.src
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
	type sideFile struct {
		name string
		data []byte
	}
	side := []sideFile{{"config.json", HFConfigJSON(&j.cfg, j.rc.Extra, source)}}
	if src.GenConfig != nil {
		side = append(side, sideFile{"generation_config.json", src.GenConfig})
	}
	for _, name := range TokenizerFiles {
		if b, ok := src.Tokenizer[name]; ok {
			side = append(side, sideFile{name, b})
		}
	}
	for _, f := range side {
		if err := atomicfile.WriteFileSync(filepath.Join(dir, f.name), f.data); err != nil {
			return nil, err
		}
		files = append(files, fileEntry(f.name, f.data))
	}
	return files, nil
}

// manifest describes the import: source and its digests, decisions, and
// every written tensor and file.
func (j *importJob) manifest(wr *safetensors.WriteResult, files []safetensors.WrittenFile, own map[string][]byte) (*Manifest, error) {
	src, cfg := j.src, j.cfg
	man := &Manifest{
		Tool: "sambay-conv", Version: Version,
		Source: ManifestSource{Path: src.Path, Format: src.Format, Layout: src.Layout},
		Target: ManifestTarget{Layout: "hf-phi4flash", DType: strings.ToLower(j.opts.DType.String())},
		Config: cfg, ConfigFrom: j.rc.From, Log: j.rc.Log, Notes: j.notes, Warnings: j.warnings, Ignored: j.extra,
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
	outDigests := map[string]string{}
	for _, wt := range wr.Tensors {
		outDigests[wt.Name] = wt.SHA256
	}
	var err error
	if man.Source.Files, err = sourceDigests(src, j.reuse, outDigests, own); err != nil {
		return nil, err
	}
	for _, wt := range wr.Tensors {
		m := j.bySource[wt.Name]
		man.Tensors = append(man.Tensors, ManifestTensor{Name: wt.Name, Source: m.From, DType: wt.DType.String(),
			Shape: wt.Shape, File: wt.File, SHA256: wt.SHA256, Note: m.Note})
	}
	for _, f := range files {
		mf := ManifestFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
		if strings.HasSuffix(f.Name, ".safetensors") {
			mf.Digest = "safetensors-content"
		}
		man.Files = append(man.Files, mf)
	}
	return man, nil
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

// outDType is the output dtype of a mapped tensor: A_log and λ stay F32
// like the release (docs/MODEL.md §6.1).
func outDType(m Mapped, dt formats.DType) formats.DType {
	if m.Spec.KeepF32 {
		return formats.F32
	}
	return dt
}

// hashTensors computes the sha256 of every source tensor whose digest cannot
// be taken from an identical output tensor.
func hashTensors(ctx context.Context, src *Source, reuse map[string]string) (map[string][]byte, error) {
	out := map[string][]byte{}
	buf := make([]byte, 1<<20)
	for _, n := range src.Names {
		if _, ok := reuse[n]; ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h := sha256.New()
		if _, err := io.CopyBuffer(h, src.Tensors[n].Reader(), buf); err != nil {
			return nil, err
		}
		out[n] = h.Sum(nil)
	}
	return out, nil
}

// sourceDigests describes the source files for the manifest. A safetensors
// file gets its safetensors.ContentDigest (header, then per-tensor sha256 in
// file order); a torch.save file gets the sha256 of its state dict's tensor
// names and per-tensor digests in name order (its optimizer state is never
// read); other files (config.json) a plain sha256.
func sourceDigests(src *Source, reuse map[string]string, outDigests map[string]string, own map[string][]byte) ([]ManifestFile, error) {
	digest := func(name string) []byte {
		if o, ok := reuse[name]; ok {
			d, _ := hex.DecodeString(outDigests[o])
			return d
		}
		return own[name]
	}
	var out []ManifestFile
	done := map[string]bool{}
	if src.st != nil {
		for _, f := range src.st.Files {
			var ds [][]byte
			for _, t := range f.Tensors {
				ds = append(ds, digest(t.Name))
			}
			fi, err := os.Stat(f.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, ManifestFile{Name: f.Name, Size: fi.Size(), SHA256: safetensors.ContentDigest(f.RawHeader(), ds), Digest: "safetensors-content"})
			done[f.Name] = true
		}
	}
	if src.pth != nil {
		h := sha256.New()
		names := append([]string{}, src.Names...)
		sort.Strings(names)
		for _, n := range names {
			io.WriteString(h, n)
			h.Write(digest(n))
		}
		fi, err := os.Stat(src.Path)
		if err != nil {
			return nil, err
		}
		out = append(out, ManifestFile{Name: src.Path, Size: fi.Size(), SHA256: hex.EncodeToString(h.Sum(nil)), Digest: "state-dict-content"})
		done[src.Path] = true
	}
	for _, f := range src.Files {
		if done[f] {
			continue
		}
		mf, err := HashFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, mf)
	}
	return out, nil
}

// HashFile returns the size and sha256 of the file at path.
func HashFile(path string) (ManifestFile, error) {
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
