package ggufmodel

import (
	"errors"
	"fmt"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/layout"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// quantRows decodes rows of a quantized matrix in place (no dequantized copy).
type quantRows struct {
	t        ggml.Type
	data     []byte
	rowBytes int
}

func (q *quantRows) DecodeRow(i int, dst []float32) {
	quant.DequantizeRow(q.t, dst, q.data[i*q.rowBytes:(i+1)*q.rowBytes])
}

// dotRows are quantized rows that also take dot products against a
// quantized activation (kernel.VecDotter), as llama.cpp's CPU backend
// computes matrix-vector products: Q8_0 blocks for the legacy types, Q8_K
// for the K-quants.
type dotRows struct {
	quantRows
	kQuant bool
	dot    func(w []byte, a any) float32
}

func (q *dotRows) PrepareX(x []float32) any {
	if q.kQuant {
		a := new(quant.Q8KAct)
		quant.QuantizeQ8KAct(a, x)
		return a
	}
	a := new(quant.Q8Act)
	quant.QuantizeQ8Act(a, x)
	return a
}

func (q *dotRows) DotRow(i int, x any) float32 {
	return q.dot(q.data[i*q.rowBytes:(i+1)*q.rowBytes], x)
}

// rowDots are the types with an activation dot product: whether they take
// a Q8_K activation, and the product (quantRows is filled in per matrix).
var rowDots = map[ggml.Type]dotRows{
	ggml.TypeQ8_0: {kQuant: false, dot: func(w []byte, a any) float32 { return quant.DotQ8_0(w, a.(*quant.Q8Act)) }},
	ggml.TypeQ4_0: {kQuant: false, dot: func(w []byte, a any) float32 { return quant.DotQ4_0(w, a.(*quant.Q8Act)) }},
	ggml.TypeQ5_0: {kQuant: false, dot: func(w []byte, a any) float32 { return quant.DotQ5_0(w, a.(*quant.Q8Act)) }},
	ggml.TypeQ2_K: {kQuant: true, dot: func(w []byte, a any) float32 { return quant.DotQ2_K(w, a.(*quant.Q8KAct)) }},
	ggml.TypeQ3_K: {kQuant: true, dot: func(w []byte, a any) float32 { return quant.DotQ3_K(w, a.(*quant.Q8KAct)) }},
	ggml.TypeQ4_K: {kQuant: true, dot: func(w []byte, a any) float32 { return quant.DotQ4_K(w, a.(*quant.Q8KAct)) }},
	ggml.TypeQ5_K: {kQuant: true, dot: func(w []byte, a any) float32 { return quant.DotQ5_K(w, a.(*quant.Q8KAct)) }},
	ggml.TypeQ6_K: {kQuant: true, dot: func(w []byte, a any) float32 { return quant.DotQ6_K(w, a.(*quant.Q8KAct)) }},
}

// Load opens a SambaY GGUF file for the forward pass: quantized matrices
// are dequantized row by row inside the kernels; Q4_0, Q5_0, Q8_0 and the
// K-quants' are dotted with a Q8_0 or Q8_K activation instead
// unless opts.ExactDot (rowDots). The returned file backs the model's
// matrices; close it when done with the model.
func Load(path string, opts reference.Options) (*reference.Model, *gguf.File, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := load(f, path, opts)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return m, f, nil
}

func load(f *gguf.File, path string, opts reference.Options) (*reference.Model, error) {
	cfg, err := configFromMetadata(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", convert.ErrConfig, path, err)
	}
	dtypeOf := map[ggml.Type]formats.DType{ggml.TypeF32: formats.F32, ggml.TypeF16: formats.F16, ggml.TypeBF16: formats.BF16}
	var errs []error
	// info finds the GGUF tensor of a canonical one, and checks its element count.
	info := func(s reference.TensorSpec) (*gguf.TensorInfo, bool) {
		name := layout.Name(s.Kind.GGUF, s.Layer)
		ti, ok := f.Tensor(name)
		if !ok {
			return nil, false // reported as missing by the loader
		}
		if n, _ := formats.NumElements(s.Shape); n != ti.NumElements() {
			errs = append(errs, fmt.Errorf("tensor %s: dims %v hold %d elements, want %d (%s)", name, ti.Dims, ti.NumElements(), n, formats.ShapeString(s.Shape)))
			return nil, false
		}
		return ti, true
	}
	get := func(s reference.TensorSpec) (formats.Tensor, layout.Transform, bool) {
		ti, ok := info(s)
		if !ok {
			return formats.Tensor{}, layout.Same, false
		}
		dt, ok := dtypeOf[ti.Type]
		if !ok {
			errs = append(errs, fmt.Errorf("tensor %s: type %v; the forward pass reads this tensor as F32, F16 or BF16", ti.Name, ti.Type))
			return formats.Tensor{}, layout.Same, false
		}
		b, err := f.Data(ti)
		if err != nil {
			errs = append(errs, err)
			return formats.Tensor{}, layout.Same, false
		}
		tr := layout.Same
		if s.Kind.InGGUF == layout.NegExp {
			tr = layout.NegExp // ssm_a holds A = −exp(A_log)
		}
		return formats.NewTensorBytes(s.Name, dt, s.Shape, path, b), tr, true
	}
	specs := map[string]reference.TensorSpec{}
	for _, s := range cfg.Tensors() {
		specs[s.Name] = s
	}
	q := func(name string) (reference.RowDecoder, int, int, bool) {
		s := specs[name]
		ti, ok := f.Tensor(layout.Name(s.Kind.GGUF, s.Layer)) // the loader checks rows × cols
		if !ok || len(ti.Dims) != 2 || !ti.Type.IsQuantized() {
			return nil, 0, 0, false
		}
		if !quant.Supported(ti.Type) {
			errs = append(errs, fmt.Errorf("tensor %s: type %v cannot be dequantized by this tool", ti.Name, ti.Type))
			return nil, 0, 0, false
		}
		b, err := f.Data(ti)
		if err != nil {
			errs = append(errs, err)
			return nil, 0, 0, false
		}
		cols := int(ti.Dims[0])
		rows := quantRows{t: ti.Type, data: b, rowBytes: ti.Type.RowBytes(cols)}
		if d, ok := rowDots[ti.Type]; ok {
			d.quantRows = rows
			return &d, int(ti.Dims[1]), cols, true
		}
		return &rows, int(ti.Dims[1]), cols, true
	}
	m, err := reference.LoadStored(cfg, get, q, opts)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", path, errors.Join(errs...))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
