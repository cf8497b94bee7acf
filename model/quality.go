package model

import (
	"fmt"
	"math"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// TensorQuality is one stored tensor compared with its original.
type TensorQuality struct {
	Name          string  `json:"name"`
	Type          string  `json:"type"`
	BitsPerWeight float64 `json:"bits_per_weight"`
	NMSE          float64 `json:"nmse"`
}

// QuantizationReport compares every matrix of a quantized model (a GGUF
// file or an MLX folder) with the same tensor of the canonical model it was
// made from: its type, bits per weight, and NMSE = Σ(q − x)² / Σ x².
func QuantizationReport(quantPath, originalDir string) ([]TensorQuality, error) {
	orig, err := safetensors.OpenModel(originalDir)
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	m, err := Open(quantPath, reference.Options{})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var out []TensorQuality
	nmse := func(name string, decode func(r int, dst []float32)) (float64, error) {
		t, ok := orig.Tensor(name)
		if !ok || len(t.Shape) != 2 {
			return 0, fmt.Errorf("%s: no matrix %s", originalDir, name)
		}
		rows, cols := int(t.Shape[0]), int(t.Shape[1])
		x, err := t.Float32s()
		if err != nil {
			return 0, err
		}
		q := make([]float32, cols)
		var acc quant.ErrSums
		for r := 0; r < rows; r++ {
			decode(r, q)
			acc.AddRow(x[r*cols:(r+1)*cols], q)
		}
		return acc.NMSE(), nil
	}
	switch m.Format {
	case KindGGUF:
		f, err := gguf.Open(quantPath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		back := map[string]string{}
		for canon, g := range ggufmodel.Names(&m.Cfg) {
			back[g] = canon
		}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			t := ti.Type
			if len(ti.Dims) != 2 || t == ggml.TypeF32 || !quant.Supported(t) || back[ti.Name] == "" {
				continue
			}
			data, err := f.Data(ti)
			if err != nil {
				return nil, err
			}
			cols := int(ti.Dims[0])
			rb := t.RowBytes(cols)
			e, err := nmse(back[ti.Name], func(r int, dst []float32) { quant.DequantizeRow(t, dst, data[r*rb:(r+1)*rb]) })
			if err != nil {
				return nil, err
			}
			out = append(out, TensorQuality{Name: ti.Name, Type: t.String(), BitsPerWeight: t.BitsPerWeight(), NMSE: e})
		}
	case KindMLX:
		q, err := safetensors.OpenModel(quantPath)
		if err != nil {
			return nil, err
		}
		defer q.Close()
		mods, err := mlxmodel.QuantizedModules(quantPath, q)
		if err != nil {
			return nil, err
		}
		for _, mod := range mods {
			if o, ok := orig.Tensor(mod.Path + ".weight"); !ok || !formats.EqualShape(o.Shape, []int64{int64(mod.Out), int64(mod.In)}) {
				return nil, fmt.Errorf("%s: module %s is [%d, %d]; %s has no matrix %s.weight of that shape", quantPath, mod.Path, mod.Out, mod.In, originalDir, mod.Path)
			}
			e, err := nmse(mod.Path+".weight", mod.Rows.DecodeRow)
			if err != nil {
				return nil, err
			}
			out = append(out, TensorQuality{Name: mod.Path, Type: fmt.Sprintf("affine%d-g%d", mod.Bits, mod.Group), BitsPerWeight: mod.BitsPerWeight(), NMSE: e})
		}
	default:
		return nil, fmt.Errorf("%s is not a quantized model (GGUF file or MLX folder)", quantPath)
	}
	for i := range out {
		if math.IsNaN(out[i].NMSE) {
			out[i].NMSE = math.Inf(1)
		}
	}
	return out, nil
}
