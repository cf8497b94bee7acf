package reference

import (
	"fmt"
	"math"

	"github.com/sambay-conv/sambay-conv/layout"
)

// A TensorSpec is one tensor of the canonical model.
type TensorSpec struct {
	Name  string  // canonical (HF Phi4Flash) name
	Shape []int64 // PyTorch order, [out, in] for linear weights
	Layer int     // block index, or -1 for embedding, final norm and head
	Role  Role    // role of Layer (meaningless when Layer is -1)
	// KeepF32 marks tensors the release stores as F32 whatever the model
	// dtype: A_log and the differential-attention lambdas (docs/MODEL.md §5).
	KeepF32 bool
	Kind    *layout.Kind // the tensor kind: its names in every layout
}

func lambdaInit(i int) float64 { return 0.8 - 0.6*math.Exp(-0.3*float64(i)) }

// Mixer returns the layout mixer of a role.
func (r Role) Mixer() layout.Mixer {
	switch {
	case r.IsMamba():
		return layout.Mamba
	case r == RoleGMU:
		return layout.GMU
	case r.IsSelfAttention():
		return layout.SelfAttn
	}
	return layout.CrossAttn
}

// Dim resolves a layout dimension against c.
func (c *Config) Dim(d layout.Dim) int64 {
	switch d {
	case layout.DimE:
		return int64(c.NEmbd)
	case layout.DimV:
		return int64(c.VocabSize)
	case layout.DimI:
		return int64(c.Intermediate)
	case layout.Dim2I:
		return 2 * int64(c.Intermediate)
	case layout.DimDi:
		return int64(c.Di())
	case layout.Dim2Di:
		return 2 * int64(c.Di())
	case layout.DimN:
		return int64(c.DState)
	case layout.DimK:
		return int64(c.DConv)
	case layout.DimOne:
		return 1
	case layout.DimXProj:
		return int64(c.DtRank + 2*c.DState)
	case layout.DimR:
		return int64(c.DtRank)
	case layout.DimQ:
		return int64(c.QDim())
	case layout.DimQKV:
		return int64(c.QDim() + 2*c.KVDim())
	case layout.DimHD:
		return int64(c.HeadDim)
	case layout.Dim2HD:
		return 2 * int64(c.HeadDim)
	case layout.DimDm:
		return int64(c.Dm())
	}
	panic(fmt.Sprintf("reference: unknown layout dim %d", d))
}

// Has reports whether a layout condition holds for c.
func (c *Config) Has(cond layout.Cond) bool {
	switch cond {
	case layout.Always:
		return true
	case layout.LayerNorm:
		return c.Norm == LayerNorm
	case layout.MLPBias:
		return c.MLPBias
	case layout.QKVBias:
		return c.QKVBias
	case layout.AttnOutBias:
		return c.AttnOutBias
	case layout.DiffAttn:
		return c.DiffAttn
	case layout.Untied:
		return !c.Tied
	}
	panic(fmt.Sprintf("reference: unknown layout condition %d", cond))
}

// Tensors returns the canonical tensor set of c in a fixed order (embedding,
// then each layer, then final norm and head), enumerating layout.Kinds
// (docs/MODEL.md §5). The canonical set is a superset of the
// release's: a tensor the release never has (an MLP bias) follows the
// release's naming pattern.
func (c *Config) Tensors() []TensorSpec {
	var out []TensorSpec
	add := func(k *layout.Kind, layer int) {
		shape := make([]int64, len(k.Shape))
		for i, d := range k.Shape {
			shape[i] = c.Dim(d)
		}
		r := Role(-1)
		if layer >= 0 {
			r = c.Role(layer)
		}
		out = append(out, TensorSpec{Name: layout.Name(k.Canonical, layer), Shape: shape, Layer: layer, Role: r, KeepF32: k.KeepF32, Kind: k})
	}
	for _, tail := range []bool{false, true} {
		if tail {
			for i := 0; i < c.NLayer; i++ {
				mix := c.Role(i).Mixer()
				for k := range layout.Kinds {
					if kd := &layout.Kinds[k]; kd.Mixers&mix != 0 && c.Has(kd.Cond) {
						add(kd, i)
					}
				}
			}
		}
		for k := range layout.Kinds {
			if kd := &layout.Kinds[k]; kd.Global() && kd.Tail() == tail && c.Has(kd.Cond) {
				add(kd, -1)
			}
		}
	}
	return out
}

// NumParams returns the parameter count of the canonical tensor set.
func (c *Config) NumParams() int64 {
	var n int64
	for _, t := range c.Tensors() {
		p := int64(1)
		for _, d := range t.Shape {
			p *= d
		}
		n += p
	}
	return n
}
