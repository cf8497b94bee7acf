package reference

import (
	"errors"
	"fmt"
	"math"
)

// NormType is the block and final norm of a model.
type NormType string

// Norm types (docs/MODEL.md §4.3).
const (
	LayerNorm NormType = "layernorm" // mean/variance, weight and bias (Phi-4-mini-flash)
	RMSNorm   NormType = "rmsnorm"   // root mean square, weight only (ArchScale SambaY)
)

// Config is the canonical configuration of a SambaY-family model (docs/MODEL.md
// §1.1). Field comments give the symbol used there.
type Config struct {
	NLayer       int      `json:"n_layer"`           // L, divisible by 4
	NEmbd        int      `json:"n_embd"`            // E
	NHead        int      `json:"n_head"`            // H
	NKVHead      int      `json:"n_kv_head"`         // G, divides H
	HeadDim      int      `json:"head_dim"`          // hd; H·hd may differ from E
	Intermediate int      `json:"intermediate_size"` // I; fc1 has 2I rows
	VocabSize    int      `json:"vocab_size"`        // V: embedding rows and logits length (padded)
	Window       int      `json:"sliding_window"`    // W ≥ 1: keys visible to a swa query, its own included
	DState       int      `json:"d_state"`           // N (16)
	DConv        int      `json:"d_conv"`            // K (4)
	Expand       int      `json:"expand"`            // Di = Expand·E
	DtRank       int      `json:"dt_rank"`           // R = ceil(E/16)
	Norm         NormType `json:"norm_type"`
	NormEps      float64  `json:"norm_eps"`
	DiffAttn     bool     `json:"diff_attn"`       // differential attention in every attention layer
	DAConstLamb  bool     `json:"da_const_lambda"` // λinit from depth 10000 (0.8)
	QKVBias      bool     `json:"qkv_bias"`        // bias on the Q/K/V projection rows
	AttnOutBias  bool     `json:"attn_out_bias"`   // bias on the attention output projection
	MLPBias      bool     `json:"mlp_bias"`        // MLP fc1/fc2 and GMU in/out projection biases
	Tied         bool     `json:"tie_embeddings"`  // lm_head shares the embedding
	GMU          bool     `json:"gmu"`             // cross-decoder alternates GMU / cross (false: all cross)
	MaxPosition  int      `json:"max_position"`    // informational (NoPE)
	// μP++ (docs/MODEL.md §4.11). DepthScale multiplies every mixer and MLP
	// output by 1/√(2L); LogitScale multiplies the final norm output; the
	// attention scale is AttnScale (already including √(128/hd) under μP++).
	DepthScale bool    `json:"depth_scale"`
	LogitScale float64 `json:"logit_scale"`
	AttnScale  float64 `json:"attn_scale"`
}

// Di returns the Mamba inner width Expand·E.
func (c *Config) Di() int { return c.Expand * c.NEmbd }

// Dm returns the GMU memory width (the Mamba inner width).
func (c *Config) Dm() int { return c.Di() }

// QDim returns H·hd, the query width.
func (c *Config) QDim() int { return c.NHead * c.HeadDim }

// KVDim returns G·hd, the key (and value) width.
func (c *Config) KVDim() int { return c.NKVHead * c.HeadDim }

// ResidualScale returns the multiplier of every block output: 1/√(2L) with
// depth scaling, else 1.
func (c *Config) ResidualScale() float64 {
	if c.DepthScale {
		return 1 / math.Sqrt(float64(2*c.NLayer))
	}
	return 1
}

// DefaultAttnScale returns 1/√hd.
func (c *Config) DefaultAttnScale() float64 { return 1 / math.Sqrt(float64(c.HeadDim)) }

// Validate checks the rules of docs/MODEL.md §1.1 that the canonical config
// can express, and returns every violation found.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	pos := map[string]int{"n_layer": c.NLayer, "n_embd": c.NEmbd, "n_head": c.NHead, "n_kv_head": c.NKVHead,
		"head_dim": c.HeadDim, "intermediate_size": c.Intermediate, "vocab_size": c.VocabSize,
		"d_state": c.DState, "d_conv": c.DConv, "expand": c.Expand, "dt_rank": c.DtRank}
	for _, k := range []string{"n_layer", "n_embd", "n_head", "n_kv_head", "head_dim", "intermediate_size", "vocab_size", "d_state", "d_conv", "expand", "dt_rank"} {
		if pos[k] <= 0 {
			bad("%s = %d, must be positive", k, pos[k])
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.NLayer%4 != 0 {
		bad("n_layer = %d is not divisible by 4 (the SambaY layout needs L/2 even)", c.NLayer)
	}
	if c.NHead%c.NKVHead != 0 {
		bad("n_head = %d is not a multiple of n_kv_head = %d", c.NHead, c.NKVHead)
	}
	if c.DiffAttn && (c.NHead%2 != 0 || c.NKVHead%2 != 0) {
		bad("differential attention needs even n_head and n_kv_head, have %d and %d", c.NHead, c.NKVHead)
	}
	if want := (c.NEmbd + 15) / 16; c.DtRank != want {
		bad("dt_rank = %d, but every SambaY Mamba uses ceil(n_embd/16) = %d", c.DtRank, want)
	}
	if c.Window < 1 {
		bad("sliding_window = %d: a sliding window of at least 1 is required", c.Window)
	}
	if c.Norm != LayerNorm && c.Norm != RMSNorm {
		bad("norm_type %q (want layernorm or rmsnorm)", c.Norm)
	}
	if !(c.NormEps > 0) {
		bad("norm_eps = %g, must be positive", c.NormEps)
	}
	if !(c.LogitScale > 0) || !(c.AttnScale > 0) {
		bad("logit_scale = %g and attn_scale = %g must be positive", c.LogitScale, c.AttnScale)
	}
	return errors.Join(errs...)
}

// HFCompatible reports whether the HF Phi4Flash remote code can run the
// model as configured (docs/MODEL.md §1.4 sambay_hf_compatible).
func (c *Config) HFCompatible() bool {
	return c.Norm == LayerNorm && c.DiffAttn && !c.DAConstLamb && c.QKVBias && c.AttnOutBias &&
		!c.MLPBias && c.GMU && c.QDim() == c.NEmbd && c.AttnScale == c.DefaultAttnScale() &&
		!c.DepthScale && c.LogitScale == 1 && c.Window >= 1
}

// Summary is a one-line description of c.
func (c *Config) Summary() string {
	return fmt.Sprintf("L=%d E=%d H=%d G=%d hd=%d I=%d V=%d W=%d norm=%s diff_attn=%v tied=%v biases(qkv=%v out=%v mlp=%v) residual×%.4g logit×%.4g attn_scale=%.4g",
		c.NLayer, c.NEmbd, c.NHead, c.NKVHead, c.HeadDim, c.Intermediate, c.VocabSize, c.Window, c.Norm, c.DiffAttn, c.Tied,
		c.QKVBias, c.AttnOutBias, c.MLPBias, c.ResidualScale(), c.LogitScale, c.AttnScale)
}
