package mlxmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
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
	// NoStats skips each module's NMSE (every row dequantized and compared):
	// Module.NMSE stays 0.
	NoStats bool
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
// View); it reads every source tensor once.
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
		KeepOrder: true, ComputeOrder: computeOrder(out), AlwaysIndex: true, IndexMetadata: map[string]any{"total_parameters": res.Params}, IndexIndent: "    ",
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
		res.Modules[i].NMSE = res.Modules[i].stats.NMSE()
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
			mod := Module{Path: path}
			if !opts.NoStats {
				mod.stats = &quant.ErrStats{}
			}
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

// sideLag is how many modules later than its weight a module's scales and
// biases are computed: the safetensors writer's workers (at most 4).
const sideLag = 4

// computeOrder is the order an export computes its tensors in: model order
// (the order a GGUF export reads the model too, so that batch jobs share
// one read), except that a module's scales and biases, which come from the
// rows its weight quantized, follow a few modules later, so that the
// writer's workers quantize different modules side by side instead of
// racing for the same rows.
func computeOrder(out []formats.Tensor) []string {
	var order, side []string
	for _, t := range out {
		switch {
		case strings.HasSuffix(t.Name, ".scales") || strings.HasSuffix(t.Name, ".biases"):
			side = append(side, t.Name)
		default:
			order = append(order, t.Name)
			if strings.HasSuffix(t.Name, ".weight") && t.DType == formats.U32 && len(side) > 2*sideLag {
				order, side = append(order, side[:2]...), side[2:]
			}
		}
	}
	return append(order, side...)
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
// quantized module. The three are computed from the same rows: the first of
// them to need row r reads and quantizes it, and what the other two need
// of it is kept until they take it, so every source row is read and
// quantized once. (The writer puts every U32 weight of a shard before the
// float tensors, as the safetensors layout orders them by dtype, so the
// scales and biases of a shard's modules are kept until the weights are
// written: their stored size, about 3 % of the bf16 source at 4 bits.)
func mlxQuantized(src formats.Tensor, path string, shape []int64, bits, group int, stats *quant.ErrStats) []formats.Tensor {
	out, in := shape[0], int(shape[1])
	sdt := src.DType
	if sdt == formats.F64 {
		sdt = formats.F32
	}
	q := &quantRows{src: src, in: in, bits: bits, group: group, sdt: sdt, stats: stats,
		rowBytes: [3]int{in * bits / 8, in / group * sdt.Size(), in / group * sdt.Size()},
		state:    make([]uint8, out), packed: map[int][]byte{}}
	q.cond = sync.NewCond(&q.mu)
	weight := formats.RowMapped(path+".weight", formats.U32, []int64{out, int64(in * bits / 32)}, int64(q.rowBytes[0]), func(r int, dst []byte) error {
		return q.take(r, 0, dst)
	})
	side := func(name string, part int) formats.Tensor {
		return formats.RowMapped(name, sdt, []int64{out, int64(in / group)}, int64(q.rowBytes[part]), func(r int, dst []byte) error {
			return q.take(r, part, dst)
		})
	}
	return []formats.Tensor{weight, side(path+".scales", 1), side(path+".biases", 2)}
}

// Row states of quantRows: bits 0–2 say which parts were taken.
const (
	rowBusy  = 1 << 6 // being quantized
	rowReady = 1 << 7 // quantized; its untaken parts are kept
)

// quantRows holds what the three tensors of one quantized module (packed
// weight, scales, biases) have not yet taken of its quantized rows.
type quantRows struct {
	src             formats.Tensor
	in, bits, group int
	sdt             formats.DType
	stats           *quant.ErrStats
	rowBytes        [3]int

	mu     sync.Mutex
	cond   *sync.Cond
	state  []uint8
	side   [2][]byte      // scales and biases of every row, as stored (allocated on first use)
	packed map[int][]byte // packed rows quantized before the weight took them
	done   int            // rows whose scales and biases were both taken
}

// take copies part (0 weight, 1 scales, 2 biases) of row r into dst,
// quantizing the row if no part of it was taken yet.
func (q *quantRows) take(r, part int, dst []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.state[r]&rowBusy != 0 {
		q.cond.Wait()
	}
	taken := q.state[r]&(1<<part) != 0
	if q.state[r]&rowReady == 0 || (taken && (part == 0 || q.side[0] == nil)) {
		// Not quantized yet, or taken before and no longer kept (a part read
		// twice): quantize it now.
		first := q.state[r]&rowReady == 0
		q.state[r] |= rowBusy
		q.mu.Unlock()
		parts, acc, err := q.quantize(r)
		q.mu.Lock()
		q.state[r] &^= rowBusy
		q.cond.Broadcast()
		if err != nil {
			return err
		}
		if first {
			q.stats.Add(acc) // a row quantized again is counted once
		}
		q.state[r] |= rowReady
		if q.side[0] == nil && q.done < len(q.state) {
			q.side[0] = make([]byte, len(q.state)*q.rowBytes[1])
			q.side[1] = make([]byte, len(q.state)*q.rowBytes[2])
		}
		for i := 1; i < 3; i++ {
			if q.side[0] != nil {
				copy(q.side[i-1][r*q.rowBytes[i]:], parts[i])
			}
		}
		if part != 0 && q.state[r]&1 == 0 {
			q.packed[r] = parts[0]
		}
		if part == 0 || q.side[0] == nil {
			copy(dst, parts[part])
			q.mark(r, part)
			return nil
		}
	}
	if part == 0 {
		copy(dst, q.packed[r])
		delete(q.packed, r)
	} else {
		copy(dst, q.side[part-1][r*q.rowBytes[part]:(r+1)*q.rowBytes[part]])
	}
	q.mark(r, part)
	return nil
}

// mark records that part of row r was taken (the caller holds mu), and
// lets the kept scales and biases go once every row's were taken.
func (q *quantRows) mark(r, part int) {
	before := q.state[r]
	q.state[r] |= 1 << part
	if before&6 != 6 && q.state[r]&6 == 6 {
		if q.done++; q.done == len(q.state) {
			q.side = [2][]byte{}
		}
	}
}

// quantize reads row r and returns its packed weight, scales and biases as
// stored (scales and biases cast to the weight dtype after coding, as MLX
// does), and the stored model's error sums of the row.
func (q *quantRows) quantize(r int) ([3][]byte, quant.ErrSums, error) {
	var parts [3][]byte
	var acc quant.ErrSums
	in, src := q.in, q.src
	es := int64(src.DType.Size())
	raw := make([]byte, int64(in)*es)
	if _, err := src.ReadAt(raw, int64(r)*int64(in)*es); err != nil && len(raw) > 0 {
		return parts, acc, err
	}
	x := make([]float32, in)
	formats.DecodeFloat32(x, raw, src.DType)
	// MLX's behaviour on NaN and ±Inf rests on undefined casts; refuse, as ggml's validation does.
	if i := quant.NonFinite(x); i >= 0 {
		return parts, acc, fmt.Errorf("tensor %s: element [%d, %d] is %v; MLX quantization needs finite values", src.Name, r, i, x[i])
	}
	packed := make([]byte, in*q.bits/8)
	sc, bs := make([]float32, in/q.group), make([]float32, in/q.group)
	quant.MLXQuantizeRow(packed, sc, bs, x, q.bits, q.group)
	parts[0] = packed
	for i, v := range [][]float32{sc, bs} {
		parts[1+i] = make([]byte, len(v)*q.sdt.Size())
		formats.EncodeFloat32(parts[1+i], v, q.sdt)
	}
	if q.stats == nil {
		return parts, acc, nil
	}
	// Error of the stored model: scales and biases as they are stored.
	back := make([]float32, in)
	quant.MLXDequantizeRow(back, packed, roundTo(sc, q.sdt), roundTo(bs, q.sdt), q.bits, q.group)
	acc.AddRow(x, back)
	return parts, acc, nil
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
