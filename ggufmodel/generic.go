package ggufmodel

import (
	"context"
	"fmt"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/quant"
)

// GenericOptions control ExportGeneric.
type GenericOptions struct {
	Output    string
	Type      ggml.Type // for every float tensor of ≥ 2 dims
	Overrides []quant.Override
	DryRun    bool
	Force     bool // replace an existing file at Output
	NoStats   bool // skip each tensor's NMSE (as Options.NoStats)
	Progress  func(done, total int64)
}

// ExportGeneric quantizes any safetensors checkpoint, whatever its
// architecture, to GGUF: every float tensor of ≥ 2 dimensions in opts.Type
// (with the shape fallback), every other tensor kept in its own type, names
// kept, general.architecture "generic". Tensor names longer than GGUF
// allows, or dtypes GGUF cannot hold, are refused by name.
func ExportGeneric(ctx context.Context, path string, opts GenericOptions) (*Result, error) {
	if !opts.DryRun {
		if err := atomicfile.CheckFile(opts.Output, opts.Force); err != nil {
			return nil, err
		}
		lock, err := atomicfile.Acquire(opts.Output)
		if err != nil {
			return nil, err
		}
		defer lock.Release()
	}
	st, err := safetensors.OpenModelWith(path, safetensors.OpenOptions{NoMmap: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	res := &Result{Policy: "generic " + opts.Type.String(), TypeCounts: map[string]int{}}
	keep := map[formats.DType]ggml.Type{formats.F32: ggml.TypeF32, formats.F16: ggml.TypeF16, formats.BF16: ggml.TypeBF16}
	var plan []quant.PlanTensor
	for _, t := range st.Tensors {
		if len(t.Name) > gguf.MaxNameLen {
			return nil, fmt.Errorf("%s: tensor %s: name of %d bytes, GGUF allows %d", t.File, t.Name, len(t.Name), gguf.MaxNameLen)
		}
		if len(t.Shape) > gguf.MaxDims {
			return nil, fmt.Errorf("%s: tensor %s: %d dimensions, GGUF allows %d", t.File, t.Name, len(t.Shape), gguf.MaxDims)
		}
		if !t.DType.IsFloat() {
			return nil, fmt.Errorf("%s: tensor %s: dtype %v is not supported by --generic (float tensors only)", t.File, t.Name, t.DType)
		}
		dims := reversed(t.Shape)
		if len(dims) == 0 {
			dims = []uint64{1} // a 0-d tensor: ggml has no 0-d tensors, one element is [1]
		}
		plan = append(plan, quant.PlanTensor{Name: t.Name, Dims: dims})
	}
	for i, t := range st.Tensors {
		gt := Tensor{Name: t.Name, Dims: plan[i].Dims, Source: t.Name, shape: t.Shape, src: t}
		if !opts.NoStats {
			gt.stats = &quant.ErrStats{}
		}
		typ, ok := keep[t.DType]
		if !ok {
			typ = ggml.TypeF32 // F64
		}
		if len(t.Shape) >= 2 {
			typ = opts.Type
			for _, o := range opts.Overrides {
				if o.Pattern.MatchString(t.Name) {
					typ, gt.Why = o.Type, "override "+o.Pattern.String()
					break
				}
			}
			choices, err := quant.Plan("", true, typ, []quant.PlanTensor{{Name: "x.weight", Dims: plan[i].Dims}}, 1, nil)
			if err != nil {
				return nil, err
			}
			if choices[0].Type != typ {
				gt.Why = choices[0].Why
			}
			typ = choices[0].Type
		}
		gt.typ, gt.Type = typ, typ.String()
		info := gguf.TensorInfo{Name: gt.Name, Dims: gt.Dims, Type: typ}
		if gt.Bytes, err = info.Size(); err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %v", t.File, t.Name, err)
		}
		res.TensorBytes += gt.Bytes
		res.Params += info.NumElements()
		res.TypeCounts[gt.Type]++
		res.Tensors = append(res.Tensors, gt)
	}
	if res.Params > 0 {
		res.BitsPerWeight = 8 * float64(res.TensorBytes) / float64(res.Params)
	}
	if opts.DryRun {
		return res, nil
	}
	kv := []gguf.KV{
		{Key: KeyArchitecture, Value: "generic"},
		{Key: KeyAlignment, Value: uint32(gguf.DefaultAlignment)},
		{Key: KeyQuantVersion, Value: uint32(2)},
		{Key: KeySourceFormat, Value: "safetensors"},
	}
	return res, write(ctx, opts.Output, kv, res, opts.Progress)
}
