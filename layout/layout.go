// Package layout is the one table of the SambaY tensor kinds: for each, its
// canonical (Hugging Face Phi4Flash) name, its ArchScale names (separate and
// fused attention layouts), its SambaY GGUF name, whether MLX quantizes it,
// its shape in terms of the config, when it is present, whether it stays F32,
// and how GGUF and MLX store it differently. Every tensor name in the
// program comes from here (docs/MODEL.md §5, docs/GGUF.md, docs/MLX.md).
//
// The package knows names and shapes, never bytes or configs: callers
// resolve a Dim and a Cond against their own configuration.
package layout

import (
	"fmt"
	"strconv"
	"strings"
)

// Mixer is a set of layer mixers (bit set). A kind with Mixers == 0 is
// global (embedding, final norm, head).
type Mixer uint8

// Mixers.
const (
	Mamba     Mixer = 1 << iota // Mamba, including the memory-emitting one
	GMU                         // gated memory unit
	SelfAttn                    // sliding-window or full self-attention (projects K and V)
	CrossAttn                   // cross-attention over the KV layer's keys and values
	Attn      = SelfAttn | CrossAttn
	AnyMixer  = Mamba | GMU | Attn
)

// Dim is a dimension in terms of the config (resolved by the caller).
type Dim uint8

// Dims.
const (
	DimE     Dim = iota + 1 // hidden size
	DimV                    // vocabulary
	DimI                    // MLP intermediate size
	Dim2I                   // fused [gate | up]
	DimDi                   // Mamba inner width (expand · E)
	Dim2Di                  // Mamba in_proj [x | z]
	DimN                    // SSM state size
	DimK                    // conv kernel
	DimOne                  // 1 (conv1d's middle dimension)
	DimXProj                // dt_rank + 2·N
	DimR                    // dt_rank
	DimQ                    // heads · head_dim
	DimQKV                  // Q + 2 · kv_heads · head_dim
	DimHD                   // head_dim
	Dim2HD                  // 2 · head_dim (differential-attention sub-norm)
	DimDm                   // GMU memory width
)

// Cond says when a kind is present.
type Cond uint8

// Conds.
const (
	Always      Cond = iota
	LayerNorm        // norms carry a bias (LayerNorm, not RMSNorm)
	MLPBias          // MLP and GMU projections carry biases
	QKVBias          // the attention input projection has a bias
	AttnOutBias      // the attention output projection has a bias
	DiffAttn         // differential attention (λ vectors and sub-norm)
	Untied           // the head is stored apart from the embedding
)

// Transform is how a format stores a tensor differently from the canonical one.
type Transform uint8

// Transforms.
const (
	Same       Transform = iota
	NegExp               // GGUF ssm_a = −exp(A_log), computed in float64 then rounded
	Squeeze              // GGUF conv1d [Di, 1, K] stored as [Di, K] (same bytes)
	MLXConv              // MLX Conv1d weight [Di, K, 1] (same bytes as [Di, 1, K])
	ConcatQKV            // ArchScale q_proj | k_proj | v_proj rows (k bias: zeros)
	RegroupQKV           // ArchScale fused per-KV-group [q…q, k, v] rows → [Q | K | V]
)

// A Kind is one tensor kind of the SambaY model. Names use "%d" for the
// layer index.
type Kind struct {
	ID        string    // stable short id, e.g. "mamba.in_proj.weight"
	Mixers    Mixer     // layers that have it; 0 = global
	Canonical string    // HF Phi4Flash name
	ArchScale string    // ArchScale name (separate layout); for ConcatQKV the q_proj name
	Fused     string    // ArchScale fused-layout name, when it differs
	GGUF      string    // SambaY GGUF name (docs/GGUF.md)
	Shape     []Dim     // PyTorch order, [out, in] for linear weights
	Cond      Cond      // when present
	KeepF32   bool      // stored F32 whatever the model dtype (the release does)
	MLX       bool      // an MLX quantizable module's weight (nn.Linear / nn.Embedding)
	Import    Transform // how import builds it from the ArchScale separate layout
	InGGUF    Transform // how GGUF stores it
	InMLX     Transform // how MLX stores it
}

// Kinds is every tensor kind in canonical order: global head kinds, then
// the kinds of one layer (each layer keeps those of its mixer), then the
// global tail. Config.Tensors in package reference enumerates this order.
var Kinds = []Kind{
	{ID: "embed", Canonical: "model.embed_tokens.weight", ArchScale: "transformer.wte.weight", GGUF: "token_embd.weight", Shape: []Dim{DimV, DimE}, MLX: true},

	{ID: "norm1.weight", Mixers: AnyMixer, Canonical: "model.layers.%d.input_layernorm.weight", ArchScale: "transformer.h.%d.norm_1.weight", GGUF: "blk.%d.attn_norm.weight", Shape: []Dim{DimE}},
	{ID: "norm1.bias", Mixers: AnyMixer, Canonical: "model.layers.%d.input_layernorm.bias", ArchScale: "transformer.h.%d.norm_1.bias", GGUF: "blk.%d.attn_norm.bias", Shape: []Dim{DimE}, Cond: LayerNorm},

	{ID: "mamba.in_proj.weight", Mixers: Mamba, Canonical: "model.layers.%d.attn.in_proj.weight", ArchScale: "transformer.h.%d.attn.in_proj.weight", GGUF: "blk.%d.ssm_in.weight", Shape: []Dim{Dim2Di, DimE}, MLX: true},
	{ID: "mamba.conv1d.weight", Mixers: Mamba, Canonical: "model.layers.%d.attn.conv1d.weight", ArchScale: "transformer.h.%d.attn.conv1d.weight", GGUF: "blk.%d.ssm_conv1d.weight", Shape: []Dim{DimDi, DimOne, DimK}, InGGUF: Squeeze, InMLX: MLXConv},
	{ID: "mamba.conv1d.bias", Mixers: Mamba, Canonical: "model.layers.%d.attn.conv1d.bias", ArchScale: "transformer.h.%d.attn.conv1d.bias", GGUF: "blk.%d.ssm_conv1d.bias", Shape: []Dim{DimDi}},
	{ID: "mamba.x_proj.weight", Mixers: Mamba, Canonical: "model.layers.%d.attn.x_proj.weight", ArchScale: "transformer.h.%d.attn.x_proj.weight", GGUF: "blk.%d.ssm_x.weight", Shape: []Dim{DimXProj, DimDi}, MLX: true},
	{ID: "mamba.dt_proj.weight", Mixers: Mamba, Canonical: "model.layers.%d.attn.dt_proj.weight", ArchScale: "transformer.h.%d.attn.dt_proj.weight", GGUF: "blk.%d.ssm_dt.weight", Shape: []Dim{DimDi, DimR}, MLX: true},
	{ID: "mamba.dt_proj.bias", Mixers: Mamba, Canonical: "model.layers.%d.attn.dt_proj.bias", ArchScale: "transformer.h.%d.attn.dt_proj.bias", GGUF: "blk.%d.ssm_dt.bias", Shape: []Dim{DimDi}},
	{ID: "mamba.A_log", Mixers: Mamba, Canonical: "model.layers.%d.attn.A_log", ArchScale: "transformer.h.%d.attn.A_log", GGUF: "blk.%d.ssm_a", Shape: []Dim{DimDi, DimN}, KeepF32: true, InGGUF: NegExp},
	{ID: "mamba.D", Mixers: Mamba, Canonical: "model.layers.%d.attn.D", ArchScale: "transformer.h.%d.attn.D", GGUF: "blk.%d.ssm_d", Shape: []Dim{DimDi}},
	{ID: "mamba.out_proj.weight", Mixers: Mamba, Canonical: "model.layers.%d.attn.out_proj.weight", ArchScale: "transformer.h.%d.attn.out_proj.weight", GGUF: "blk.%d.ssm_out.weight", Shape: []Dim{DimE, DimDi}, MLX: true},

	{ID: "gmu.in_proj.weight", Mixers: GMU, Canonical: "model.layers.%d.attn.in_proj.weight", ArchScale: "transformer.h.%d.attn.gmu.in_proj.weight", GGUF: "blk.%d.gmu_in.weight", Shape: []Dim{DimDm, DimE}, MLX: true},
	{ID: "gmu.in_proj.bias", Mixers: GMU, Canonical: "model.layers.%d.attn.in_proj.bias", ArchScale: "transformer.h.%d.attn.gmu.in_proj.bias", GGUF: "blk.%d.gmu_in.bias", Shape: []Dim{DimDm}, Cond: MLPBias},
	{ID: "gmu.out_proj.weight", Mixers: GMU, Canonical: "model.layers.%d.attn.out_proj.weight", ArchScale: "transformer.h.%d.attn.gmu.out_proj.weight", GGUF: "blk.%d.gmu_out.weight", Shape: []Dim{DimE, DimDm}, MLX: true},
	{ID: "gmu.out_proj.bias", Mixers: GMU, Canonical: "model.layers.%d.attn.out_proj.bias", ArchScale: "transformer.h.%d.attn.gmu.out_proj.bias", GGUF: "blk.%d.gmu_out.bias", Shape: []Dim{DimE}, Cond: MLPBias},

	{ID: "self.qkv.weight", Mixers: SelfAttn, Canonical: "model.layers.%d.attn.Wqkv.weight", ArchScale: "transformer.h.%d.attn.q_proj.weight", Fused: "transformer.h.%d.attn.attn.weight", GGUF: "blk.%d.attn_qkv.weight", Shape: []Dim{DimQKV, DimE}, MLX: true, Import: ConcatQKV},
	{ID: "self.qkv.bias", Mixers: SelfAttn, Canonical: "model.layers.%d.attn.Wqkv.bias", ArchScale: "transformer.h.%d.attn.q_proj.bias", Fused: "transformer.h.%d.attn.attn.bias", GGUF: "blk.%d.attn_qkv.bias", Shape: []Dim{DimQKV}, Cond: QKVBias, Import: ConcatQKV},
	{ID: "cross.q.weight", Mixers: CrossAttn, Canonical: "model.layers.%d.attn.Wqkv.weight", ArchScale: "transformer.h.%d.attn.q_proj.weight", Fused: "transformer.h.%d.attn.attn.weight", GGUF: "blk.%d.attn_q.weight", Shape: []Dim{DimQ, DimE}, MLX: true},
	{ID: "cross.q.bias", Mixers: CrossAttn, Canonical: "model.layers.%d.attn.Wqkv.bias", ArchScale: "transformer.h.%d.attn.q_proj.bias", Fused: "transformer.h.%d.attn.attn.bias", GGUF: "blk.%d.attn_q.bias", Shape: []Dim{DimQ}, Cond: QKVBias},
	{ID: "attn.lambda_q1", Mixers: Attn, Canonical: "model.layers.%d.attn.inner_cross_attn.lambda_q1", ArchScale: "transformer.h.%d.attn.da.lambda_q1", GGUF: "blk.%d.attn_lambda_q1", Shape: []Dim{DimHD}, Cond: DiffAttn, KeepF32: true},
	{ID: "attn.lambda_k1", Mixers: Attn, Canonical: "model.layers.%d.attn.inner_cross_attn.lambda_k1", ArchScale: "transformer.h.%d.attn.da.lambda_k1", GGUF: "blk.%d.attn_lambda_k1", Shape: []Dim{DimHD}, Cond: DiffAttn, KeepF32: true},
	{ID: "attn.lambda_q2", Mixers: Attn, Canonical: "model.layers.%d.attn.inner_cross_attn.lambda_q2", ArchScale: "transformer.h.%d.attn.da.lambda_q2", GGUF: "blk.%d.attn_lambda_q2", Shape: []Dim{DimHD}, Cond: DiffAttn, KeepF32: true},
	{ID: "attn.lambda_k2", Mixers: Attn, Canonical: "model.layers.%d.attn.inner_cross_attn.lambda_k2", ArchScale: "transformer.h.%d.attn.da.lambda_k2", GGUF: "blk.%d.attn_lambda_k2", Shape: []Dim{DimHD}, Cond: DiffAttn, KeepF32: true},
	{ID: "attn.subln.weight", Mixers: Attn, Canonical: "model.layers.%d.attn.inner_cross_attn.subln.weight", ArchScale: "transformer.h.%d.attn.da.subln.weight", GGUF: "blk.%d.attn_sub_norm.weight", Shape: []Dim{Dim2HD}, Cond: DiffAttn},
	{ID: "attn.out_proj.weight", Mixers: Attn, Canonical: "model.layers.%d.attn.out_proj.weight", ArchScale: "transformer.h.%d.attn.proj.weight", GGUF: "blk.%d.attn_output.weight", Shape: []Dim{DimE, DimQ}, MLX: true},
	{ID: "attn.out_proj.bias", Mixers: Attn, Canonical: "model.layers.%d.attn.out_proj.bias", ArchScale: "transformer.h.%d.attn.proj.bias", GGUF: "blk.%d.attn_output.bias", Shape: []Dim{DimE}, Cond: AttnOutBias},

	{ID: "norm2.weight", Mixers: AnyMixer, Canonical: "model.layers.%d.post_attention_layernorm.weight", ArchScale: "transformer.h.%d.norm_2.weight", GGUF: "blk.%d.ffn_norm.weight", Shape: []Dim{DimE}},
	{ID: "norm2.bias", Mixers: AnyMixer, Canonical: "model.layers.%d.post_attention_layernorm.bias", ArchScale: "transformer.h.%d.norm_2.bias", GGUF: "blk.%d.ffn_norm.bias", Shape: []Dim{DimE}, Cond: LayerNorm},
	{ID: "mlp.fc1.weight", Mixers: AnyMixer, Canonical: "model.layers.%d.mlp.fc1.weight", ArchScale: "transformer.h.%d.mlp.w1.weight", GGUF: "blk.%d.ffn_up.weight", Shape: []Dim{Dim2I, DimE}, MLX: true},
	{ID: "mlp.fc1.bias", Mixers: AnyMixer, Canonical: "model.layers.%d.mlp.fc1.bias", ArchScale: "transformer.h.%d.mlp.w1.bias", GGUF: "blk.%d.ffn_up.bias", Shape: []Dim{Dim2I}, Cond: MLPBias},
	{ID: "mlp.fc2.weight", Mixers: AnyMixer, Canonical: "model.layers.%d.mlp.fc2.weight", ArchScale: "transformer.h.%d.mlp.w3.weight", GGUF: "blk.%d.ffn_down.weight", Shape: []Dim{DimE, DimI}, MLX: true},
	{ID: "mlp.fc2.bias", Mixers: AnyMixer, Canonical: "model.layers.%d.mlp.fc2.bias", ArchScale: "transformer.h.%d.mlp.w3.bias", GGUF: "blk.%d.ffn_down.bias", Shape: []Dim{DimE}, Cond: MLPBias},

	{ID: "final_norm.weight", Canonical: "model.final_layernorm.weight", ArchScale: "transformer.ln_f.weight", GGUF: "output_norm.weight", Shape: []Dim{DimE}},
	{ID: "final_norm.bias", Canonical: "model.final_layernorm.bias", ArchScale: "transformer.ln_f.bias", GGUF: "output_norm.bias", Shape: []Dim{DimE}, Cond: LayerNorm},
	{ID: "head", Canonical: "lm_head.weight", ArchScale: "lm_head.weight", GGUF: "output.weight", Shape: []Dim{DimV, DimE}, Cond: Untied, MLX: true},
}

// Name fills in the layer index of a name pattern ("%d"); global names
// come back as they are.
func Name(pattern string, layer int) string {
	if !strings.Contains(pattern, "%d") {
		return pattern
	}
	return strings.Replace(pattern, "%d", strconv.Itoa(layer), 1)
}

// byID indexes Kinds.
var byID = func() map[string]int {
	m := map[string]int{}
	for i, k := range Kinds {
		if _, dup := m[k.ID]; dup {
			panic("layout: duplicate kind " + k.ID)
		}
		m[k.ID] = i
	}
	return m
}()

// Get returns the kind with the given ID; it panics on an unknown ID, which
// is a bug in the caller, never bad input.
func Get(id string) *Kind {
	i, ok := byID[id]
	if !ok {
		panic(fmt.Sprintf("layout: no kind %q", id))
	}
	return &Kinds[i]
}

// Global reports whether k is not per layer.
func (k *Kind) Global() bool { return k.Mixers == 0 }

// Tail reports whether k is a global kind that comes after the layers.
func (k *Kind) Tail() bool { return k.Global() && k.ID != "embed" }

// Module returns the MLX module path of an MLX-quantizable weight (its
// canonical name without ".weight").
func Module(canonical string) string { return strings.TrimSuffix(canonical, ".weight") }

// The ArchScale names of the separate layout's attention projections,
// which import concatenates (docs/MODEL.md §5.4).
const (
	ArchScaleK = "transformer.h.%d.attn.k_proj.weight"
	ArchScaleV = "transformer.h.%d.attn.v_proj.weight"
	// The separate layout has a q and a v bias but no k bias.
	ArchScaleKBias = "transformer.h.%d.attn.k_proj.bias"
	ArchScaleVBias = "transformer.h.%d.attn.v_proj.bias"
)

// Prefixes of names in each layout: every canonical name but the head's
// starts with CanonicalPrefix, every ArchScale one with ArchScalePrefix;
// layer names with the LayerPrefix of their layout.
const (
	CanonicalPrefix      = "model."
	ArchScalePrefix      = "transformer."
	CanonicalLayerPrefix = "model.layers."
	ArchScaleLayerPrefix = "transformer.h."
	GGUFLayerPrefix      = "blk."
)

// Suffix returns what follows the layer index in a per-layer name pattern
// (".attn.attn.weight" of "transformer.h.%d.attn.attn.weight").
func Suffix(pattern string) string {
	_, after, _ := strings.Cut(pattern, "%d")
	return after
}

// LayerIndex returns the block index of a canonical or ArchScale name, or −1.
func LayerIndex(name string) int {
	for _, p := range []string{CanonicalLayerPrefix, ArchScaleLayerPrefix} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			if i := strings.IndexByte(rest, '.'); i > 0 {
				if n, err := strconv.Atoi(rest[:i]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}
