package mlxmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/layout"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// Options control Export.
type Options struct {
	Output    string
	Bits      int    // 2, 3, 4, 5, 6, 8 (default 4)
	GroupSize int    // 32, 64 (default), 128
	Recipe    string // "" (every quantizable module at Bits) or "mixed_4_6"
	Force     bool   // replace an existing output folder (holding only files the tool writes)
	// Progress, when set, receives the tensor bytes written so far and the
	// total (from several goroutines; it must be safe for concurrent use).
	Progress func(done, total int64)
}

// Module is one quantizable module of an MLX export.
type Module struct {
	Path      string  `json:"path"`
	Quantized bool    `json:"quantized"`
	Bits      int     `json:"bits,omitempty"`
	NMSE      float64 `json:"nmse,omitempty"`
	Why       string  `json:"why,omitempty"`
	stats     *quant.ErrStats
}

// Result describes an MLX export.
type Result struct {
	Path          string   `json:"path"`
	Bits          int      `json:"bits"`
	GroupSize     int      `json:"group_size"`
	Modules       []Module `json:"modules"`
	TensorBytes   int64    `json:"tensor_bytes"`
	Params        int64    `json:"parameters"`
	BitsPerWeight float64  `json:"bits_per_weight"`
}

// Recipes lists the mixed-precision recipes Export knows.
var Recipes = []string{"mixed_4_6"}

// Export writes a canonical model folder as an MLX affine-quantized folder
// (docs/MLX.md): quantized modules as U32 weights with scales and biases in
// the weight dtype, the rest as float (A_log and λ F32), conv1d in MLX
// [Di, K, 1] layout, config.json with "quantization", shards of at most
// 5 GiB with an index and {"format": "mlx"}.
func Export(ctx context.Context, modelDir string, opts Options) (*Result, error) {
	if err := opts.check(); err != nil {
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
// View); SourceReads says how often it reads each source tensor.
func ExportFrom(ctx context.Context, cm *convert.Canonical, opts Options) (*Result, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	res, out, overrides, err := plan(cm, opts)
	if err != nil {
		return nil, err
	}
	err = writeFolder(ctx, opts.Output, opts.Force, out, res, opts.Progress, func(dir string) error {
		return writeSideFiles(dir, cm, opts, overrides)
	})
	return res, err
}

// writeFolder writes an MLX folder at output: the tensors of out (shards of
// at most 5 GiB in the given order, {"format": "mlx"}, always an index with
// total_parameters), then side(tmp) for config.json and the other files,
// under the output's lock and a temporary name; it completes res.
func writeFolder(ctx context.Context, output string, force bool, out []formats.Tensor, res *Result, progress func(done, total int64), side func(dir string) error) error {
	lock, err := atomicfile.Acquire(output)
	if err != nil {
		return err
	}
	defer lock.Release()
	pd, err := atomicfile.NewDir(output, force, convert.OwnFile)
	if err != nil {
		return err
	}
	defer pd.Cleanup()
	wo := safetensors.WriteOptions{
		MaxShardSize: 5 << 30, Metadata: map[string]string{"format": "mlx"}, RejectNonFinite: true, Ctx: ctx,
		KeepOrder: true, AlwaysIndex: true, IndexMetadata: map[string]any{"total_parameters": res.Params}, IndexIndent: "    ",
	}
	if progress != nil {
		var total int64
		for _, t := range out {
			total += t.Size()
		}
		var done atomic.Int64
		wo.Progress = func(n int64) { progress(done.Add(n), total) }
	}
	wr, err := safetensors.WriteModel(pd.Path(), out, wo)
	if err != nil {
		return err
	}
	res.TensorBytes = wr.TotalSize
	if err := side(pd.Path()); err != nil {
		return err
	}
	if err := pd.Commit(); err != nil {
		return err
	}
	for i := range res.Modules {
		if m := &res.Modules[i]; m.stats != nil {
			m.NMSE = m.stats.NMSE()
		}
	}
	res.Path = output
	if res.Params > 0 {
		res.BitsPerWeight = 8 * float64(res.TensorBytes) / float64(res.Params)
	}
	return nil
}

// check fills defaults and refuses parameters MLX does not have.
func (o *Options) check() error {
	if o.Bits == 0 {
		o.Bits = 4
	}
	if o.GroupSize == 0 {
		o.GroupSize = 64
	}
	if o.Recipe == "mixed_4_6" {
		o.Bits = 4
	} else if o.Recipe != "" {
		return fmt.Errorf("mlx: unknown recipe %q (want %s)", o.Recipe, strings.Join(Recipes, ", "))
	}
	return quant.MLXCheck(o.Bits, o.GroupSize)
}

// plan lists the output tensors of every canonical tensor in model order
// (quantized modules as lazy weight, scales and biases) and the
// per-module overrides of config.json's "quantization".
func plan(cm *convert.Canonical, opts Options) (*Result, []formats.Tensor, map[string]any, error) {
	cfg := cm.Config
	res := &Result{Bits: opts.Bits, GroupSize: opts.GroupSize}
	overrides := map[string]any{}
	var out []formats.Tensor
	for _, s := range cfg.Tensors() {
		src, ok := cm.Tensor(s.Name)
		if !ok || !formats.EqualShape(src.Shape, s.Shape) || !src.DType.IsFloat() {
			return nil, nil, nil, fmt.Errorf("%w: %s: tensor %s missing or not a float tensor of shape %s", convert.ErrValidation, cm.Dir, s.Name, formats.ShapeString(s.Shape))
		}
		if s.Kind.MLX {
			path := layout.Module(s.Name)
			mod := Module{Path: path, stats: &quant.ErrStats{}}
			bits, why := moduleBits(s, cfg.NLayer, opts)
			if bits == 0 {
				mod.Why = why
				overrides[path] = false
				res.Modules = append(res.Modules, mod)
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
		}
		t := src
		if s.KeepF32 {
			t = formats.Converted(src, formats.F32)
		}
		t.Name = s.Name
		if s.Kind.InMLX == layout.MLXConv {
			t.Shape = []int64{s.Shape[0], s.Shape[2], 1} // MLX Conv1d layout [Di, K, 1], same bytes as [Di, 1, K]
		}
		out = append(out, t)
		res.Params += t.NumElements()
	}
	return res, out, overrides, nil
}

// moduleBits returns the bits a quantizable module s gets under opts, or 0
// and why it stays float.
func moduleBits(s reference.TensorSpec, nLayer int, opts Options) (int, string) {
	if in := int(s.Shape[1]); in%opts.GroupSize != 0 {
		return 0, fmt.Sprintf("in = %d is not a multiple of the group size %d: kept float", in, opts.GroupSize)
	}
	if opts.Recipe == "mixed_4_6" && mixed46High(s, nLayer) {
		return 6, ""
	}
	return opts.Bits, ""
}

// PlanBytes returns the tensor bytes of an export of a model with config
// cfg stored in floats of dtypeSize bytes (2 for bf16), without reading it:
// the size Export's index will record.
func PlanBytes(cfg *reference.Config, dtypeSize int, opts Options) (int64, error) {
	if err := opts.check(); err != nil {
		return 0, err
	}
	var n int64
	for _, s := range cfg.Tensors() {
		elems := int64(1)
		for _, d := range s.Shape {
			elems *= d
		}
		bits := 0
		if s.Kind.MLX {
			bits, _ = moduleBits(s, cfg.NLayer, opts)
		}
		switch {
		case bits > 0:
			n += elems*int64(bits)/8 + 2*elems/int64(opts.GroupSize)*int64(dtypeSize)
		case s.KeepF32:
			n += 4 * elems
		default:
			n += elems * int64(dtypeSize)
		}
	}
	return n, nil
}

// SourceReads returns how many times an export under opts reads each
// canonical tensor of a model with config cfg, by name: a quantized
// module's weight three times (its packed weight, scales and biases are
// three tensors, each computed from the rows), every other tensor once.
func SourceReads(cfg *reference.Config, opts Options) (map[string]int, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, s := range cfg.Tensors() {
		out[s.Name] = 1
		if s.Kind.MLX {
			if bits, _ := moduleBits(s, cfg.NLayer, opts); bits > 0 {
				out[s.Name] = 3
			}
		}
	}
	return out, nil
}

// writeSideFiles writes config.json (the canonical one with
// "quantization" and "quantization_config") and copies the generation and
// tokenizer files.
func writeSideFiles(dir string, cm *convert.Canonical, opts Options, overrides map[string]any) error {
	var conf map[string]any
	if err := json.Unmarshal(cm.ConfigJSON, &conf); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(cm.Dir, "config.json"), err)
	}
	delete(conf, "_name_or_path")
	q := map[string]any{"group_size": opts.GroupSize, "bits": opts.Bits, "mode": "affine"}
	for k, v := range overrides {
		q[k] = v
	}
	conf["quantization"], conf["quantization_config"] = q, q
	cj, err := json.MarshalIndent(conf, "", "    ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFileSync(filepath.Join(dir, "config.json"), append(cj, '\n')); err != nil {
		return err
	}
	for _, f := range append([]string{"generation_config.json"}, convert.TokenizerFiles...) {
		b, err := sidefile.Read(cm.Dir, f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFileSync(filepath.Join(dir, f), b); err != nil {
			return err
		}
	}
	return nil
}

// mlxQuantized returns the lazy weight, scales and biases tensors of one
// quantized module; rows are quantized when read.
func mlxQuantized(src formats.Tensor, path string, shape []int64, bits, group int, stats *quant.ErrStats) []formats.Tensor {
	out, in := shape[0], int(shape[1])
	sdt := src.DType
	if sdt == formats.F64 {
		sdt = formats.F32
	}
	es := int64(src.DType.Size())
	quantRow := func(r int) (x []float32, packed []byte, sc, bs []float32, err error) {
		raw := make([]byte, int64(in)*es)
		if _, err := src.ReadAt(raw, int64(r)*int64(in)*es); err != nil && len(raw) > 0 {
			return nil, nil, nil, nil, err
		}
		x = make([]float32, in)
		formats.DecodeFloat32(x, raw, src.DType)
		for i, v := range x {
			// MLX's behaviour on NaN and ±Inf rests on undefined casts; refuse, as ggml's validation does.
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, nil, nil, nil, fmt.Errorf("tensor %s: element [%d, %d] is %v; MLX quantization needs finite values", src.Name, r, i, v)
			}
		}
		packed = make([]byte, in*bits/8)
		sc, bs = make([]float32, in/group), make([]float32, in/group)
		quant.MLXQuantizeRow(packed, sc, bs, x, bits, group)
		return x, packed, sc, bs, nil
	}
	weight := formats.RowMapped(path+".weight", formats.U32, []int64{out, int64(in * bits / 32)}, int64(in*bits/8), func(r int, dst []byte) error {
		x, packed, sc, bs, err := quantRow(r)
		if err != nil {
			return err
		}
		copy(dst, packed)
		// Error of the stored model: scales and biases as they are stored.
		back := make([]float32, in)
		quant.MLXDequantizeRow(back, packed, roundTo(sc, sdt), roundTo(bs, sdt), bits, group)
		var acc quant.ErrSums
		acc.AddRow(x, back)
		stats.Add(acc)
		return nil
	})
	side := func(name string, pick int) formats.Tensor {
		return formats.RowMapped(name, sdt, []int64{out, int64(in / group)}, int64(in/group*sdt.Size()), func(r int, dst []byte) error {
			_, _, sc, bs, err := quantRow(r)
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

// mixed46High reports whether mlx-lm's mixed_4_6 recipe gives module s
// 6 bits: the embedding and head, the self-attention input projections,
// and fc2 of the layers llama.cpp's use_more_bits picks.
func mixed46High(s reference.TensorSpec, nLayer int) bool {
	switch s.Kind.ID {
	case "embed", "head", "self.qkv.weight":
		return true
	case "mlp.fc2.weight":
		return quant.UseMoreBits(s.Layer, nLayer)
	}
	return false
}
