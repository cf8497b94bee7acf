package model

import (
	"sort"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/ggufmodel"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/reference"
)

// InspectReport describes a checkpoint without converting it.
type InspectReport struct {
	Path        string            `json:"path"`
	Format      string            `json:"format"`
	Layout      string            `json:"layout"`
	Tensors     int               `json:"tensor_count"`
	Params      int64             `json:"parameters"`
	Bytes       int64             `json:"tensor_bytes"`
	DTypes      map[string]DTStat `json:"dtypes"`
	Config      *reference.Config `json:"config,omitempty"`
	ConfigFrom  string            `json:"config_from,omitempty"`
	ConfigError string            `json:"config_error,omitempty"`
	HFCompat    *bool             `json:"hf_compatible,omitempty"`
	Layers      []LayerInfo       `json:"layers,omitempty"`
	Hparams     map[string]any    `json:"hparams,omitempty"`
	IterNum     *int64            `json:"iter_num,omitempty"`
	Warnings    []string          `json:"warnings,omitempty"`
}

// DTStat counts the tensors, elements and bytes of one dtype.
type DTStat struct {
	Tensors  int   `json:"tensor_count"`
	Elements int64 `json:"elements"`
	Bytes    int64 `json:"tensor_bytes"`
}

// LayerInfo is one row of the layer table.
type LayerInfo struct {
	Index  int    `json:"index"`
	Kind   string `json:"kind"` // mamba, swa, full-kv, gmu, cross
	Memory bool   `json:"memory_source,omitempty"`
	KV     bool   `json:"kv_source,omitempty"`
	Params int64  `json:"parameters"`
}

// Inspect opens a checkpoint and reports its format, dtypes, sizes and —
// when the configuration can be decided and matches the tensors — the
// layer table. A configuration that cannot be decided is reported, not
// fatal.
func Inspect(path string, co convert.ConfigOptions, so convert.SourceOptions) (*InspectReport, error) {
	kind, err := Sniff(path)
	if err != nil {
		return nil, err
	}
	if kind == KindGGUF || kind == KindMLX {
		return inspectQuantized(path, kind)
	}
	src, err := convert.OpenSource(path, so)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	r := &InspectReport{Path: path, Format: src.Format, Layout: src.Layout, Tensors: len(src.Names),
		DTypes: map[string]DTStat{}, Hparams: src.Hparams, IterNum: src.IterNum, Warnings: src.Warnings}
	for _, n := range src.Names {
		t := src.Tensors[n]
		r.count(t.DType.String(), t.NumElements(), t.Size())
		r.Params += t.NumElements()
	}
	rc, err := convert.ResolveConfig(src, co)
	if err != nil {
		r.ConfigError = err.Error()
		return r, nil
	}
	cfg := rc.Config
	if _, _, _, err := convert.Canonicalize(&cfg, src); err != nil {
		r.ConfigError = err.Error()
	}
	r.Config, r.ConfigFrom = &cfg, rc.From
	r.layers(&cfg)
	return r, nil
}

// layers fills the layer table of cfg.
func (r *InspectReport) layers(cfg *reference.Config) {
	compat := cfg.HFCompatible()
	r.HFCompat = &compat
	perLayer := map[int]int64{}
	for _, s := range cfg.Tensors() {
		if s.Layer >= 0 {
			n, _ := formats.NumElements(s.Shape)
			perLayer[s.Layer] += n
		}
	}
	for i := 0; i < cfg.NLayer; i++ {
		role := cfg.Role(i)
		r.Layers = append(r.Layers, LayerInfo{Index: i, Kind: role.Kind(), Memory: i == cfg.MemoryLayer(),
			KV: i == cfg.KVLayer(), Params: perLayer[i]})
	}
}

// inspectQuantized describes a GGUF file or an MLX folder: its tensors by
// storage type and the model it holds (loaded as the forward pass would).
func inspectQuantized(path string, kind Kind) (*InspectReport, error) {
	r := &InspectReport{Path: path, DTypes: map[string]DTStat{}}
	if kind == KindMLX {
		r.Format, r.Layout = string(KindMLX), convert.LayoutHF
		st, err := safetensors.OpenModel(path)
		if err != nil {
			return nil, err
		}
		for _, t := range st.Tensors {
			r.count(t.DType.String(), t.NumElements(), t.Size())
		}
		r.Tensors = len(st.Tensors)
		st.Close()
	} else {
		r.Format, r.Layout = string(KindGGUF), ggufmodel.Arch
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			size, _ := ti.Size()
			r.count(ti.Type.String(), ti.NumElements(), size)
		}
		r.Tensors = len(f.Tensors)
		f.Close()
	}
	m, err := Open(path, reference.Options{})
	if err != nil {
		r.ConfigError = err.Error()
		return r, nil
	}
	defer m.Close()
	cfg := m.Cfg
	r.Config, r.ConfigFrom = &cfg, r.Format+" metadata"
	r.Params = cfg.NumParams()
	r.layers(&cfg)
	return r, nil
}

// count adds one tensor of the given storage type to the dtype table and the byte total.
func (r *InspectReport) count(dtype string, elements, bytes int64) {
	s := r.DTypes[dtype]
	s.Tensors++
	s.Elements += elements
	s.Bytes += bytes
	r.DTypes[dtype] = s
	r.Bytes += bytes
}

// SortedDTypes returns the dtype names of a report in a stable order.
func (r *InspectReport) SortedDTypes() []string {
	out := make([]string, 0, len(r.DTypes))
	for k := range r.DTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
