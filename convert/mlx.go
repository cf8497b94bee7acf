package convert

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// MLXOptions control ExportMLX.
type MLXOptions struct {
	Output    string
	Bits      int    // 2, 3, 4, 5, 6, 8 (default 4)
	GroupSize int    // 32, 64 (default), 128
	Recipe    string // "" (every quantizable module at Bits) or "mixed_4_6"
	Force     bool
}

// MLXModule is one quantizable module of an MLX export.
type MLXModule struct {
	Path      string  `json:"path"`
	Quantized bool    `json:"quantized"`
	Bits      int     `json:"bits,omitempty"`
	NMSE      float64 `json:"nmse,omitempty"`
	Why       string  `json:"why,omitempty"`
	stats     *errStats
}

// MLXResult describes an MLX export.
type MLXResult struct {
	Path          string      `json:"path"`
	Bits          int         `json:"bits"`
	GroupSize     int         `json:"group_size"`
	Modules       []MLXModule `json:"modules"`
	TensorBytes   int64       `json:"tensor_bytes"`
	Params        int64       `json:"parameters"`
	BitsPerWeight float64     `json:"bits_per_weight"`
}

// mlxModules returns the quantizable module paths of c in model order with
// their [out, in] shapes (spec mlx.md §6).
func mlxModules(c *reference.Config) map[string]bool {
	m := map[string]bool{"model.embed_tokens": true, "lm_head": true}
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		for _, s := range []string{"attn.Wqkv", "attn.out_proj", "attn.in_proj", "attn.x_proj", "attn.dt_proj", "mlp.fc1", "mlp.fc2"} {
			m[p+s] = true
		}
	}
	return m
}

func useMoreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

// ExportMLX writes a canonical model folder as an MLX affine-quantized
// folder (spec mlx.md): quantized modules as U32 weights with scales and
// biases in the weight dtype, the rest as float (A_log and λ F32),
// conv1d in MLX [Di, K, 1] layout, config.json with "quantization", shards
// of at most 5 GiB with an index and {"format": "mlx"}.
func ExportMLX(ctx context.Context, modelDir string, opts MLXOptions) (*MLXResult, error) {
	if opts.Bits == 0 {
		opts.Bits = 4
	}
	if opts.GroupSize == 0 {
		opts.GroupSize = 64
	}
	if opts.Recipe == "mixed_4_6" {
		opts.Bits = 4
	} else if opts.Recipe != "" {
		return nil, fmt.Errorf("mlx: unknown recipe %q (want mixed_4_6)", opts.Recipe)
	}
	if err := quant.MLXCheck(opts.Bits, opts.GroupSize); err != nil {
		return nil, err
	}
	cfg, cb, st, err := openCanonical(modelDir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	mods := mlxModules(&cfg)
	res := &MLXResult{Bits: opts.Bits, GroupSize: opts.GroupSize}
	overrides := map[string]any{}
	var out []formats.Tensor
	for _, s := range cfg.Tensors() {
		src, ok := st.Tensor(s.Name)
		if !ok || !formats.EqualShape(src.Shape, s.Shape) || !src.DType.IsFloat() {
			return nil, fmt.Errorf("%w: %s: tensor %s missing or not a float tensor of shape %s", ErrValidation, modelDir, s.Name, formats.ShapeString(s.Shape))
		}
		path := strings.TrimSuffix(s.Name, ".weight")
		if strings.HasSuffix(s.Name, ".weight") && mods[path] && len(s.Shape) == 2 {
			mod := MLXModule{Path: path, stats: &errStats{}}
			bits := opts.Bits
			if opts.Recipe == "mixed_4_6" && (path == "model.embed_tokens" || path == "lm_head" ||
				(s.Role.IsSelfAttention() && strings.HasSuffix(path, "attn.Wqkv")) ||
				(strings.HasSuffix(path, "mlp.fc2") && useMoreBits(s.Layer, cfg.NLayer))) {
				bits = 6
			}
			in := int(s.Shape[1])
			if in%opts.GroupSize != 0 {
				mod.Why = fmt.Sprintf("in = %d is not a multiple of the group size %d: kept float", in, opts.GroupSize)
				overrides[path] = false
			} else {
				mod.Quantized, mod.Bits = true, bits
				if bits != opts.Bits {
					overrides[path] = map[string]any{"group_size": opts.GroupSize, "bits": bits, "mode": "affine"}
				}
				out = append(out, mlxQuantized(src, path, s.Shape, bits, opts.GroupSize, mod.stats)...)
				res.Modules = append(res.Modules, mod)
				res.Params += s.Shape[0] * s.Shape[1]
				continue
			}
			res.Modules = append(res.Modules, mod)
		}
		t := src
		if s.KeepF32 {
			t = formats.Converted(src, formats.F32)
		}
		t.Name = s.Name
		if strings.HasSuffix(s.Name, "conv1d.weight") {
			t.Shape = []int64{s.Shape[0], s.Shape[2], 1} // MLX Conv1d layout, same bytes
		}
		out = append(out, t)
		res.Params += t.NumElements()
	}
	pd, err := atomicfile.NewDir(opts.Output, opts.Force)
	if err != nil {
		return nil, err
	}
	defer pd.Cleanup()
	wr, err := safetensors.WriteModel(pd.Path(), out, safetensors.WriteOptions{
		MaxShardSize: 5 << 30, Metadata: map[string]string{"format": "mlx"}, RejectNonFinite: true, Ctx: ctx,
		KeepOrder: true, AlwaysIndex: true, IndexMetadata: map[string]any{"total_parameters": res.Params}, IndexIndent: "    ",
	})
	if err != nil {
		return nil, err
	}
	res.TensorBytes = wr.TotalSize
	var conf map[string]any
	if err := json.Unmarshal(cb, &conf); err != nil {
		return nil, err
	}
	delete(conf, "_name_or_path")
	q := map[string]any{"group_size": opts.GroupSize, "bits": opts.Bits, "mode": "affine"}
	for k, v := range overrides {
		q[k] = v
	}
	conf["quantization"], conf["quantization_config"] = q, q
	cj, err := json.MarshalIndent(conf, "", "    ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFileSync(filepath.Join(pd.Path(), "config.json"), append(cj, '\n')); err != nil {
		return nil, err
	}
	for _, f := range []string{"generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"} {
		if b, err := os.ReadFile(filepath.Join(modelDir, f)); err == nil {
			if err := atomicfile.WriteFileSync(filepath.Join(pd.Path(), f), b); err != nil {
				return nil, err
			}
		}
	}
	if err := pd.Commit(); err != nil {
		return nil, err
	}
	for i := range res.Modules {
		if m := &res.Modules[i]; m.stats != nil && m.stats.ssx > 0 {
			m.NMSE = m.stats.sse / m.stats.ssx
		}
	}
	res.Path = opts.Output
	res.BitsPerWeight = 8 * float64(res.TensorBytes) / float64(res.Params)
	return res, nil
}

// mlxQuantized returns the lazy weight, scales and biases tensors of one
// quantized module; rows are quantized when read.
func mlxQuantized(src formats.Tensor, path string, shape []int64, bits, group int, stats *errStats) []formats.Tensor {
	out, in := shape[0], int(shape[1])
	sdt := src.DType
	if sdt == formats.F64 {
		sdt = formats.F32
	}
	es := int64(src.DType.Size())
	quantRow := func(r int) ([]byte, []float32, []float32, error) {
		raw := make([]byte, int64(in)*es)
		if _, err := src.ReadAt(raw, int64(r)*int64(in)*es); err != nil && len(raw) > 0 {
			return nil, nil, nil, err
		}
		x := make([]float32, in)
		formats.DecodeFloat32(x, raw, src.DType)
		packed := make([]byte, in*bits/8)
		sc, bs := make([]float32, in/group), make([]float32, in/group)
		quant.MLXQuantizeRow(packed, sc, bs, x, bits, group)
		return packed, sc, bs, nil
	}
	weight := formats.RowMapped(path+".weight", formats.U32, []int64{out, int64(in * bits / 32)}, int64(in*bits/8), func(r int, dst []byte) error {
		packed, sc, bs, err := quantRow(r)
		if err != nil {
			return err
		}
		copy(dst, packed)
		// Error of the stored model: scales and biases as they are stored.
		back := make([]float32, in)
		sc2, bs2 := roundTo(sc, sdt), roundTo(bs, sdt)
		quant.MLXDequantizeRow(back, packed, sc2, bs2, bits, group)
		raw := make([]byte, int64(in)*es)
		src.ReadAt(raw, int64(r)*int64(in)*es)
		x := make([]float32, in)
		formats.DecodeFloat32(x, raw, src.DType)
		var sse, ssx float64
		for i := range x {
			d := float64(back[i]) - float64(x[i])
			sse += d * d
			ssx += float64(x[i]) * float64(x[i])
		}
		stats.mu.Lock()
		stats.sse += sse
		stats.ssx += ssx
		stats.mu.Unlock()
		return nil
	})
	side := func(name string, pick int) formats.Tensor {
		return formats.RowMapped(name, sdt, []int64{out, int64(in / group)}, int64(in/group*sdt.Size()), func(r int, dst []byte) error {
			_, sc, bs, err := quantRow(r)
			if err != nil {
				return err
			}
			v := sc
			if pick == 1 {
				v = bs
			}
			formats.EncodeFloat32(dst, v, sdt) // cast after coding, as MLX
			return nil
		})
	}
	return []formats.Tensor{weight, side(path+".scales", 0), side(path+".biases", 1)}
}

func roundTo(v []float32, dt formats.DType) []float32 {
	b := make([]byte, len(v)*dt.Size())
	formats.EncodeFloat32(b, v, dt)
	out := make([]float32, len(v))
	formats.DecodeFloat32(out, b, dt)
	return out
}

// isMLX reports whether path is an MLX model folder (config.json with a
// "quantization" key).
func isMLX(path string) bool {
	b, err := os.ReadFile(filepath.Join(path, "config.json"))
	if err != nil {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, ok := m["quantization"]
	return ok
}

// mlxRows decodes rows of an MLX quantized matrix in place.
type mlxRows struct {
	packed         []byte
	scales, biases formats.Tensor
	bits, group    int
	in             int
}

func (m *mlxRows) DecodeRow(i int, dst []float32) {
	ng := m.in / m.group
	sb := make([]byte, ng*m.scales.DType.Size())
	sc, bs := make([]float32, ng), make([]float32, ng)
	m.scales.ReadAt(sb, int64(i*len(sb)))
	formats.DecodeFloat32(sc, sb, m.scales.DType)
	m.biases.ReadAt(sb, int64(i*len(sb)))
	formats.DecodeFloat32(bs, sb, m.biases.DType)
	rb := m.in * m.bits / 8
	quant.MLXDequantizeRow(dst, m.packed[i*rb:(i+1)*rb], sc, bs, m.bits, m.group)
}

// LoadMLX opens an MLX affine-quantized model folder for the forward pass;
// quantized rows are dequantized inside the kernels.
func LoadMLX(dir string, opts reference.Options) (*LoadedModel, error) {
	cb, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	cfg, _, err := ParseHFConfig(cb)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, dir, err)
	}
	var conf struct {
		Quantization map[string]json.RawMessage `json:"quantization"`
	}
	json.Unmarshal(cb, &conf)
	var top struct {
		Bits      int `json:"bits"`
		GroupSize int `json:"group_size"`
	}
	raw, _ := json.Marshal(conf.Quantization)
	json.Unmarshal(raw, &top)
	st, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	specs := map[string]reference.TensorSpec{}
	for _, s := range cfg.Tensors() {
		specs[s.Name] = s
	}
	get := func(name string) (formats.Tensor, bool) {
		t, ok := st.Tensor(name)
		if ok && strings.HasSuffix(name, "conv1d.weight") {
			t.Shape = specs[name].Shape // MLX [Di, K, 1] holds the same bytes as [Di, 1, K]
		}
		return t, ok
	}
	q := func(name string) (reference.RowDecoder, int, int, bool) {
		path := strings.TrimSuffix(name, ".weight")
		w, ok1 := st.Tensor(name)
		sc, ok2 := st.Tensor(path + ".scales")
		bs, ok3 := st.Tensor(path + ".biases")
		if !ok1 || !ok2 || !ok3 || w.DType != formats.U32 || len(w.Shape) != 2 {
			return nil, 0, 0, false
		}
		bits, group := top.Bits, top.GroupSize
		if o, ok := conf.Quantization[path]; ok {
			var p struct {
				Bits      int `json:"bits"`
				GroupSize int `json:"group_size"`
			}
			if json.Unmarshal(o, &p) == nil && p.Bits > 0 {
				bits, group = p.Bits, p.GroupSize
			}
		}
		if quant.MLXCheck(bits, group) != nil {
			return nil, 0, 0, false
		}
		in := int(w.Shape[1]) * 32 / bits
		packed, err := w.Bytes()
		if err != nil {
			return nil, 0, 0, false
		}
		return &mlxRows{packed: packed, scales: sc, biases: bs, bits: bits, group: group, in: in}, int(w.Shape[0]), in, true
	}
	m, err := reference.LoadQuantized(cfg, get, q, opts)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &LoadedModel{Model: m, Dir: dir, Format: "mlx", closer: st}, nil
}
