package mlxmodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/layout"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// IsFolder reports whether dir is an MLX model folder: its config.json is
// a JSON object with a "quantization" key (docs/MLX.md). A missing or
// unreadable config.json is no MLX folder; a config.json that is not
// JSON is an error.
func IsFolder(dir string) (bool, error) {
	p := filepath.Join(dir, "config.json")
	b, err := sidefile.Read(dir, "config.json")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	_, ok := m["quantization"]
	return ok, nil
}

// quantization is config.json's "quantization" object: the default bits and
// group size, and per-module overrides (false: kept float; an object: other
// bits or group size).
type quantization struct {
	Bits, GroupSize int
	modules         map[string]json.RawMessage
}

func readQuantization(cb []byte, path string) (quantization, error) {
	var conf struct {
		Quantization map[string]json.RawMessage `json:"quantization"`
	}
	if err := json.Unmarshal(cb, &conf); err != nil {
		return quantization{}, fmt.Errorf("%s: %w", path, err)
	}
	q := quantization{modules: conf.Quantization}
	for k, dst := range map[string]*int{"bits": &q.Bits, "group_size": &q.GroupSize} {
		if raw, ok := conf.Quantization[k]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return q, fmt.Errorf("%s: quantization.%s: %w", path, k, err)
			}
		}
	}
	return q, nil
}

// module returns the bits and group size of a module path.
func (q quantization) module(path string) (bits, group int, err error) {
	bits, group = q.Bits, q.GroupSize
	if o, ok := q.modules[path]; ok {
		var p struct {
			Bits      int `json:"bits"`
			GroupSize int `json:"group_size"`
		}
		if json.Unmarshal(o, &p) == nil && p.Bits > 0 {
			bits, group = p.Bits, p.GroupSize
		}
	}
	return bits, group, quant.MLXCheck(bits, group)
}

// rows decodes rows of an MLX quantized matrix in place; scales and biases
// stay in their stored bytes (mapped), decoded one row at a time.
type rows struct {
	packed         []byte
	scales, biases []byte
	sdt            formats.DType
	bits, group    int
	in             int
}

func (m *rows) DecodeRow(i int, dst []float32) {
	ng := m.in / m.group
	rb := ng * m.sdt.Size()
	sc, bs := make([]float32, ng), make([]float32, ng)
	formats.DecodeFloat32(sc, m.scales[i*rb:(i+1)*rb], m.sdt)
	formats.DecodeFloat32(bs, m.biases[i*rb:(i+1)*rb], m.sdt)
	pb := m.in * m.bits / 8
	quant.MLXDequantizeRow(dst, m.packed[i*pb:(i+1)*pb], sc, bs, m.bits, m.group)
}

// dotRows are 4- or 8-bit rows, which also take dot products against a
// prepared activation (kernel.VecDotter): quant.DotMLX, Q8_0 blocks of the
// activation times the codes, then each group's scale and bias.
type dotRows struct{ *rows }

func (m dotRows) PrepareX(x []float32) any {
	a := new(quant.MLXAct)
	quant.QuantizeMLXAct(a, x, m.bits, m.group)
	return a
}

func (m dotRows) DotRow(i int, x any) float32 {
	ng := m.in / m.group
	rb, pb := ng*m.sdt.Size(), m.in*m.bits/8
	return quant.DotMLX(m.packed[i*pb:(i+1)*pb], m.scales[i*rb:(i+1)*rb], m.biases[i*rb:(i+1)*rb], m.sdt, x.(*quant.MLXAct))
}

// rowsOf returns the row decoder of the quantized module path (its .weight,
// .scales and .biases tensors) and its row count; nil and no error when the
// module is not quantized (no .scales).
func rowsOf(st *safetensors.Model, q quantization, path string) (*rows, int, error) {
	w, ok1 := st.Tensor(path + ".weight")
	sc, ok2 := st.Tensor(path + ".scales")
	bs, ok3 := st.Tensor(path + ".biases")
	if !ok1 || !ok2 || !ok3 {
		return nil, 0, nil
	}
	bits, group, err := q.module(path)
	if err != nil {
		return nil, 0, fmt.Errorf("module %s: %w", path, err)
	}
	if w.DType != formats.U32 || len(w.Shape) != 2 {
		return nil, 0, fmt.Errorf("tensor %s.weight is %v %s, want U32 [out, in·bits/32]", path, w.DType, formats.ShapeString(w.Shape))
	}
	out, in := w.Shape[0], w.Shape[1]*32/int64(bits)
	if in%int64(group) != 0 {
		return nil, 0, fmt.Errorf("module %s: width %d (from %s.weight at %d bits) is not a multiple of the group size %d that config.json gives it", path, in, path, bits, group)
	}
	want := []int64{out, in / int64(group)}
	if !sc.DType.IsFloat() || sc.DType != bs.DType || !formats.EqualShape(sc.Shape, want) || !formats.EqualShape(bs.Shape, want) {
		return nil, 0, fmt.Errorf("module %s: scales %v %s and biases %v %s, want one float dtype of shape %s", path,
			sc.DType, formats.ShapeString(sc.Shape), bs.DType, formats.ShapeString(bs.Shape), formats.ShapeString(want))
	}
	r := &rows{bits: bits, group: group, in: int(in), sdt: sc.DType}
	for _, p := range []struct {
		t   formats.Tensor
		dst *[]byte
	}{{w, &r.packed}, {sc, &r.scales}, {bs, &r.biases}} {
		if *p.dst, err = p.t.Bytes(); err != nil {
			return nil, 0, err
		}
	}
	return r, int(out), nil
}

// Load opens an MLX affine-quantized model folder for the forward pass;
// quantized rows are dequantized inside the kernels, or for 4 and 8 bits
// dotted with a Q8_0-quantized activation unless opts.ExactDot
// (docs/MLX.md). The returned shards
// back the model's matrices; close them when done with the model.
func Load(dir string, opts reference.Options) (*reference.Model, *safetensors.Model, error) {
	p := filepath.Join(dir, "config.json")
	cb, err := sidefile.Read(dir, "config.json")
	if err != nil {
		return nil, nil, err
	}
	cfg, _, err := convert.ParseHFConfig(cb)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", convert.ErrConfig, p, err)
	}
	qc, err := readQuantization(cb, p)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", convert.ErrConfig, err)
	}
	st, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, nil, err
	}
	specs := map[string]reference.TensorSpec{}
	for _, s := range cfg.Tensors() {
		specs[s.Name] = s
	}
	var errs []error
	get := func(name string) (formats.Tensor, bool) {
		t, ok := st.Tensor(name)
		if s := specs[name]; ok && s.Kind.InMLX == layout.MLXConv && formats.EqualShape(t.Shape, []int64{s.Shape[0], s.Shape[2], 1}) {
			t.Shape = s.Shape // MLX [Di, K, 1] holds the same bytes as [Di, 1, K]
		}
		return t, ok
	}
	q := func(name string) (reference.RowDecoder, int, int, bool) {
		r, out, err := rowsOf(st, qc, layout.Module(name))
		if err != nil {
			errs = append(errs, err)
		}
		if r == nil {
			return nil, 0, 0, false
		}
		if quant.MLXDotSupports(r.bits, r.sdt) {
			return dotRows{r}, out, r.in, true
		}
		return r, out, r.in, true
	}
	m, err := reference.LoadQuantized(cfg, get, q, opts)
	if len(errs) > 0 {
		err = errors.Join(errs...) // the root cause: the loader's own errors follow from these
	}
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, st, nil
}

// A QuantizedModule is one quantized module of an MLX folder.
type QuantizedModule struct {
	Path        string // module path ("model.layers.0.mlp.fc1")
	Bits, Group int
	ScaleDType  formats.DType
	Out, In     int
	Rows        reference.RowDecoder
}

// BitsPerWeight returns the module's storage bits per weight: the packed
// codes plus a scale and a bias per group.
func (m *QuantizedModule) BitsPerWeight() float64 {
	return float64(m.Bits) + 2*8*float64(m.ScaleDType.Size())/float64(m.Group)
}

// QuantizedModules lists the quantized modules of the MLX folder dir, whose
// shards st holds, in file order, with the bits and group size its
// config.json gives each.
func QuantizedModules(dir string, st *safetensors.Model) ([]QuantizedModule, error) {
	p := filepath.Join(dir, "config.json")
	cb, err := sidefile.Read(dir, "config.json")
	if err != nil {
		return nil, err
	}
	qc, err := readQuantization(cb, p)
	if err != nil {
		return nil, err
	}
	var out []QuantizedModule
	for _, t := range st.Tensors {
		path, ok := strings.CutSuffix(t.Name, ".scales")
		if !ok {
			continue
		}
		r, rowsN, err := rowsOf(st, qc, path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if r == nil {
			return nil, fmt.Errorf("%s: %s has no matching .weight and .biases", dir, t.Name)
		}
		out = append(out, QuantizedModule{Path: path, Bits: r.bits, Group: r.group, ScaleDType: r.sdt, Out: rowsN, In: r.in, Rows: r})
	}
	return out, nil
}
