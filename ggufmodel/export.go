package ggufmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/layout"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// Options control Export.
type Options struct {
	Output    string
	Policy    string // a named mix of quant.Mixes (f32, f16, bf16, q8_0, q6_k, q5_k_m, q4_k_m, q5_0, q4_0)
	Pure      bool   // every quantizable tensor in PureType (shape fallback only)
	PureType  ggml.Type
	Overrides []quant.Override
	DryRun    bool
	Name      string // general.name
	Force     bool   // replace an existing file at Output
	// NoStats skips each tensor's NMSE, which costs a dequantization of
	// every row (about a tenth of a fast type's export): Tensor.NMSE stays 0.
	NoStats bool
	// Progress, when set, receives the tensor bytes written so far and the
	// total (from several goroutines; it must be safe for concurrent use).
	Progress func(done, total int64)
}

// Tensor is one row of an export plan.
type Tensor struct {
	Name   string   `json:"name"`
	Dims   []uint64 `json:"dims"`
	Type   string   `json:"type"`
	Bytes  int64    `json:"bytes"`
	Source string   `json:"source"`
	Why    string   `json:"why,omitempty"`
	// NMSE is Σ(dequantized − original)² / Σ original² over the tensor
	// (written files only, 0 under NoStats).
	NMSE float64 `json:"nmse"`

	stats  *quant.ErrStats
	typ    ggml.Type
	shape  []int64 // canonical shape of the source
	src    formats.Tensor
	negExp bool // ssm_a = −exp(A_log)
}

// Result describes an export (or, with DryRun, its plan).
type Result struct {
	Path          string         `json:"path,omitempty"`
	Policy        string         `json:"policy"`
	Tensors       []Tensor       `json:"tensors"`
	TensorBytes   int64          `json:"tensor_bytes"`
	FileBytes     int64          `json:"file_bytes,omitempty"`
	Params        int64          `json:"parameters"`
	BitsPerWeight float64        `json:"bits_per_weight"`
	TypeCounts    map[string]int `json:"type_counts"`
	Warnings      []string       `json:"warnings,omitempty"`
}

// Validate checks the options before any work: a named mix unless Pure,
// and a type quant supports when Pure. Errors wrap quant.ErrUnknown.
func (o *Options) Validate() error {
	if o.Pure {
		if !quant.Supported(o.PureType) {
			return fmt.Errorf("%w: type %v", quant.ErrUnknown, o.PureType)
		}
		return nil
	}
	if _, ok := quant.LookupMix(o.Policy); !ok {
		return fmt.Errorf("%w: policy %q (want one of %s)", quant.ErrUnknown, o.Policy, strings.Join(quant.MixNames(), ", "))
	}
	return nil
}

// Name returns the SambaY GGUF name of the layout kind id in layer (−1 for
// a global kind).
func Name(c *reference.Config, id string, layer int) string {
	return layout.Name(layout.Get(id).GGUF, layer)
}

// Names returns the canonical name → GGUF name map of a config.
func Names(c *reference.Config) map[string]string {
	m := map[string]string{}
	for _, s := range c.Tensors() {
		m[s.Name] = layout.Name(s.Kind.GGUF, s.Layer)
	}
	return m
}

func reversed(shape []int64) []uint64 {
	out := make([]uint64, len(shape))
	for i, d := range shape {
		out[len(shape)-1-i] = uint64(d)
	}
	return out
}

// Plan lists the GGUF tensors of cfg in file order (docs/GGUF.md
// §Tensors) with the type each gets under opts (policy, --pure, overrides)
// and its byte size, without reading any weights.
func Plan(cfg *reference.Config, opts Options) (*Result, error) {
	var ts []Tensor
	for _, s := range cfg.Tensors() {
		shape := s.Shape
		if s.Kind.InGGUF == layout.Squeeze {
			shape = []int64{s.Shape[0], s.Shape[2]} // conv1d [Di, 1, K] stored as [Di, K]
		}
		ts = append(ts, Tensor{Name: layout.Name(s.Kind.GGUF, s.Layer), Dims: reversed(shape), Source: s.Name, shape: s.Shape,
			negExp: s.Kind.InGGUF == layout.NegExp})
	}
	plan := make([]quant.PlanTensor, len(ts))
	for i, t := range ts {
		plan[i] = quant.PlanTensor{Name: t.Name, Dims: t.Dims}
	}
	choices, err := quant.Plan(opts.Policy, opts.Pure, opts.PureType, plan, cfg.NLayer, opts.Overrides)
	if err != nil {
		return nil, err
	}
	res := &Result{Policy: opts.Policy, TypeCounts: map[string]int{}}
	if opts.Pure {
		res.Policy = "pure " + opts.PureType.String()
	}
	for i := range ts {
		t := &ts[i]
		t.typ, t.Why = choices[i].Type, choices[i].Why
		t.Type = t.typ.String()
		info := gguf.TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.typ}
		if t.Bytes, err = info.Size(); err != nil {
			return nil, fmt.Errorf("gguf: tensor %s: %v", t.Name, err)
		}
		res.TensorBytes += t.Bytes
		res.Params += info.NumElements()
		res.TypeCounts[t.Type]++
	}
	res.Tensors = ts
	res.BitsPerWeight = 8 * float64(res.TensorBytes) / float64(res.Params)
	return res, nil
}

// Export writes a canonical model folder as a SambaY GGUF file with the
// per-tensor types of a policy (docs/GGUF.md). With DryRun it only returns
// the plan.
func Export(ctx context.Context, modelDir string, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cm, err := convert.OpenCanonical(modelDir)
	if err != nil {
		return nil, err
	}
	defer cm.Close()
	return ExportFrom(ctx, cm, opts)
}

// ExportFrom is Export of an opened canonical model (read through its
// View); it reads every source tensor once.
func ExportFrom(ctx context.Context, cm *convert.Canonical, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	modelDir := cm.Dir
	cfg := cm.Config
	res, err := Plan(&cfg, opts)
	if err != nil {
		return nil, err
	}
	ts := res.Tensors
	quantized := false
	for i := range ts {
		t := &ts[i]
		src, ok := cm.Tensor(t.Source)
		if !ok {
			return nil, fmt.Errorf("%w: %s: tensor %s is missing", convert.ErrValidation, modelDir, t.Source)
		}
		if want := t.shape; !formats.EqualShape(src.Shape, want) || !src.DType.IsFloat() {
			return nil, fmt.Errorf("%w: %s: tensor %s is %v %s, want a float tensor of shape %s", convert.ErrValidation, modelDir, t.Source, src.DType, formats.ShapeString(src.Shape), formats.ShapeString(want))
		}
		t.src = src
		if !opts.NoStats {
			t.stats = &quant.ErrStats{}
		}
		quantized = quantized || t.typ.IsQuantized()
	}
	if opts.DryRun {
		return res, nil
	}
	name := modelName(cm, opts.Name)
	out, err := outputPath(opts, name, SizeLabel(cfg.NumParams()))
	if err != nil {
		return nil, err
	}
	lock, err := atomicfile.Acquire(out)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	kv := metadata(&cfg, opts.fileType(), quantized, name, "")
	prov, err := provenanceKVs(modelDir, name, cfg.NumParams())
	if err != nil {
		return nil, err
	}
	kv = append(kv, prov...)
	tk, err := tokenizerKVs(modelDir, cfg.VocabSize)
	if err != nil {
		return nil, err
	}
	if tk == nil {
		res.Warnings = append(res.Warnings, modelDir+" has no tokenizer.json: the GGUF carries no tokenizer, and a runtime needs one to turn text into token ids")
	}
	kv = append(kv, tk...)
	return res, write(ctx, out, kv, res, opts.Progress)
}

// write encodes the planned tensors of res (sources attached) into a GGUF
// file and records each tensor's quantization NMSE.
func write(ctx context.Context, path string, kv []gguf.KV, res *Result, progress func(done, total int64)) error {
	srcs := make([]gguf.Source, len(res.Tensors))
	for i := range res.Tensors {
		t := &res.Tensors[i]
		srcs[i] = gguf.Source{Info: gguf.TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.typ}, EncodeRows: func(dst []byte, first, n int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return encodeRows(t, dst, first, n)
		}}
	}
	wo := gguf.WriteOptions{}
	if progress != nil {
		var done atomic.Int64
		wo.Progress = func(n int64) { progress(done.Add(n), res.TensorBytes) }
	}
	size, err := gguf.WriteFile(path, kv, srcs, wo)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	res.Path, res.FileBytes = path, size
	for i := range res.Tensors {
		res.Tensors[i].NMSE = res.Tensors[i].stats.NMSE()
	}
	return nil
}

// rowBuffers holds encodeRows's float32 rows between calls: a fresh
// buffer per chunk costs page faults that outweigh a fast quantizer.
var rowBuffers = sync.Pool{New: func() any { return new([]float32) }}

// encodeRows widens rows [first, first+n) of the source to float32 and
// encodes them in the tensor's type, refusing input or output that ggml's
// row validation would reject.
func encodeRows(t *Tensor, dst []byte, first, n int) error {
	ne0 := int(t.Dims[0])
	// Rows go through in groups of about 256 KB of float32, each read,
	// checked, quantized and measured while it is in cache (one pass over
	// the chunk per step cost more in memory traffic than the quantizers).
	g := max(1, min(n, (256<<10)/(4*ne0)))
	bp := rowBuffers.Get().(*[]float32)
	defer rowBuffers.Put(bp)
	if cap(*bp) < (g+1)*ne0 {
		*bp = make([]float32, (g+1)*ne0)
	}
	buf := (*bp)[:(g+1)*ne0]
	back := buf[g*ne0:]
	rb := t.typ.RowBytes(ne0)
	var acc quant.ErrSums
	for r0 := 0; r0 < n; r0 += g {
		m := min(g, n-r0)
		x := buf[:m*ne0]
		if err := t.src.ReadFloat32(x, int64((first+r0)*ne0)); err != nil {
			return err
		}
		if t.negExp {
			for i, v := range x {
				x[i] = float32(-math.Exp(float64(v)))
			}
		}
		if i := quant.NonFinite(x); i >= 0 {
			return fmt.Errorf("row %d: element %d is not finite", first+r0+i/ne0, i%ne0)
		}
		for r := 0; r < m; r++ {
			row := dst[(r0+r)*rb : (r0+r+1)*rb]
			xr := x[r*ne0 : (r+1)*ne0]
			quant.QuantizeRow(t.typ, row, xr)
			if b := quant.ValidateRow(t.typ, row); b >= 0 {
				return fmt.Errorf("row %d: block %d of %v has a scale that overflows f16 (values beyond ±65504?); ggml would reject it", first+r0+r, b, t.typ)
			}
			if t.stats != nil {
				quant.DequantizeRow(t.typ, back, row)
				acc.AddRow(xr, back)
			}
		}
	}
	t.stats.Add(acc)
	return nil
}

// fileType is general.file_type: the mix's, or a pure type's.
func (o *Options) fileType() uint32 {
	if o.Pure {
		return quant.PureFileType(o.PureType)
	}
	return quant.FileType(o.Policy)
}

// typeLabel is the type part of a default file name: the mix or the pure
// type, upper case as llama.cpp writes it (Q4_K_M, Q8_0).
func (o *Options) typeLabel() string {
	if o.Pure {
		return o.PureType.String()
	}
	return strings.ToUpper(o.Policy)
}

// modelName is general.name: the given name, else the source's name as
// config.json records it (_name_or_path, or the ArchScale model_name import
// wrote into sambay_source), else the folder's name (its parent's when it is
// the pipeline's "canonical").
func modelName(cm *convert.Canonical, given string) string {
	if given != "" {
		return given
	}
	var conf struct {
		NameOrPath string `json:"_name_or_path"`
		Source     struct {
			ModelName string `json:"model_name"`
		} `json:"sambay_source"`
	}
	if json.Unmarshal(cm.ConfigJSON, &conf) == nil {
		if n := path.Base(strings.TrimRight(conf.NameOrPath, "/")); conf.NameOrPath != "" && n != "." && n != "/" {
			return n
		}
		if conf.Source.ModelName != "" {
			return conf.Source.ModelName
		}
	}
	dir := filepath.Clean(cm.Dir)
	if filepath.Base(dir) == "canonical" {
		dir = filepath.Dir(dir)
	}
	return filepath.Base(dir)
}

var unsafeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

// outputPath is where Export writes: opts.Output, or — when that is an
// existing folder — llama.cpp's default name `<Name>-<Size>-<TYPE>.gguf` in
// it. An existing file there is refused unless Force.
func outputPath(opts Options, name, size string) (string, error) {
	out := opts.Output
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		out = filepath.Join(out, fmt.Sprintf("%s-%s-%s.gguf", strings.Trim(unsafeName().ReplaceAllString(name, "-"), "-."), size, opts.typeLabel()))
	}
	return out, atomicfile.CheckFile(out, opts.Force)
}

// provenanceKVs describes where a canonical folder came from, from its
// manifest.json when it has one: general.basename, general.size_label and
// the sambay_conv.source_* keys (format and source file digests).
func provenanceKVs(dir, name string, params int64) ([]gguf.KV, error) {
	kv := []gguf.KV{{Key: KeyBasename, Value: name},
		{Key: KeySizeLabel, Value: SizeLabel(params)}}
	man, err := convert.ReadManifest(dir)
	if err != nil || man == nil {
		return kv, err
	}
	var digests []string
	for _, f := range man.Source.Files {
		digests = append(digests, filepath.Base(f.Name)+":"+f.SHA256)
	}
	kv = append(kv, gguf.KV{Key: KeySourceFormat, Value: man.Source.Format},
		gguf.KV{Key: KeySourceSHA256, Value: strings.Join(digests, ",")},
		gguf.KV{Key: KeyToolVersion, Value: man.Version})
	return kv, nil
}

// SizeLabel formats a parameter count the way general.size_label does ("3.9B", "100K").
func SizeLabel(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.0fK", float64(n)/1e3)
}
