package reference

import (
	"fmt"
	"math"
	"strings"
)

// A TensorSpec is one tensor of the canonical model.
type TensorSpec struct {
	Name  string  // canonical (HF Phi4Flash) name
	Shape []int64 // PyTorch order, [out, in] for linear weights
	Layer int     // block index, or -1 for embedding, final norm and head
	Role  Role    // role of Layer (meaningless when Layer is -1)
	// KeepF32 marks tensors the release stores as F32 whatever the model
	// dtype: A_log and the differential-attention lambdas (spec model.md §6.1).
	KeepF32 bool
}

func lambdaInit(i int) float64 { return 0.8 - 0.6*math.Exp(-0.3*float64(i)) }

// Tensors returns the canonical tensor set of c in a fixed order (embedding,
// then each layer, then final norm and head), spec model.md §5.1. The
// canonical set is a superset of the release's: a tensor the release never
// has (an MLP bias) follows the release's naming pattern.
func (c *Config) Tensors() []TensorSpec {
	E, I, V := int64(c.NEmbd), int64(c.Intermediate), int64(c.VocabSize)
	Di, N, K, R := int64(c.Di()), int64(c.DState), int64(c.DConv), int64(c.DtRank)
	Q, C, hd := int64(c.QDim()), int64(c.KVDim()), int64(c.HeadDim)
	var out []TensorSpec
	add := func(layer int, name string, shape ...int64) {
		r := Role(-1)
		if layer >= 0 {
			r = c.Role(layer)
		}
		leaf := name[strings.LastIndexByte(name, '.')+1:]
		out = append(out, TensorSpec{Name: name, Shape: shape, Layer: layer, Role: r,
			KeepF32: leaf == "A_log" || strings.HasPrefix(leaf, "lambda_")})
	}
	norm := func(layer int, prefix string) {
		add(layer, prefix+".weight", E)
		if c.Norm == LayerNorm {
			add(layer, prefix+".bias", E)
		}
	}
	add(-1, "model.embed_tokens.weight", V, E)
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		norm(i, p+"input_layernorm")
		a := p + "attn."
		switch r := c.Role(i); r {
		case RoleMamba, RoleMambaMemory:
			add(i, a+"in_proj.weight", 2*Di, E)
			add(i, a+"conv1d.weight", Di, 1, K)
			add(i, a+"conv1d.bias", Di)
			add(i, a+"x_proj.weight", R+2*N, Di)
			add(i, a+"dt_proj.weight", Di, R)
			add(i, a+"dt_proj.bias", Di)
			add(i, a+"A_log", Di, N)
			add(i, a+"D", Di)
			add(i, a+"out_proj.weight", E, Di)
		case RoleGMU:
			Dm := int64(c.Dm())
			add(i, a+"in_proj.weight", Dm, E)
			if c.MLPBias {
				add(i, a+"in_proj.bias", Dm)
			}
			add(i, a+"out_proj.weight", E, Dm)
			if c.MLPBias {
				add(i, a+"out_proj.bias", E)
			}
		default:
			rows := Q
			if r.IsSelfAttention() {
				rows = Q + 2*C
			}
			add(i, a+"Wqkv.weight", rows, E)
			if c.QKVBias {
				add(i, a+"Wqkv.bias", rows)
			}
			if c.DiffAttn {
				for _, l := range []string{"lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"} {
					add(i, a+"inner_cross_attn."+l, hd)
				}
				add(i, a+"inner_cross_attn.subln.weight", 2*hd)
			}
			add(i, a+"out_proj.weight", E, Q)
			if c.AttnOutBias {
				add(i, a+"out_proj.bias", E)
			}
		}
		norm(i, p+"post_attention_layernorm")
		add(i, p+"mlp.fc1.weight", 2*I, E)
		if c.MLPBias {
			add(i, p+"mlp.fc1.bias", 2*I)
		}
		add(i, p+"mlp.fc2.weight", E, I)
		if c.MLPBias {
			add(i, p+"mlp.fc2.bias", E)
		}
	}
	norm(-1, "model.final_layernorm")
	if !c.Tied {
		add(-1, "lm_head.weight", V, E)
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
