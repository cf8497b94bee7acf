package convert

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// GGUFOptions control ExportGGUF.
type GGUFOptions struct {
	Output    string
	Policy    string // f32, f16, bf16, q8_0, q6_k, q5_k_m, q4_k_m, q5_0, q4_0
	Pure      bool   // every quantizable tensor in PureType (shape fallback only)
	PureType  ggml.Type
	Overrides []quant.Override
	DryRun    bool
	Name      string // general.name
}

// GGUFTensor is one row of an export plan.
type GGUFTensor struct {
	Name   string   `json:"name"`
	Dims   []uint64 `json:"dims"`
	Type   string   `json:"type"`
	Bytes  int64    `json:"bytes"`
	Source string   `json:"source"`
	Why    string   `json:"why,omitempty"`
	// NMSE is Σ(dequantized − original)² / Σ original² over the tensor
	// (written files only).
	NMSE float64 `json:"nmse"`

	stats  *errStats
	typ    ggml.Type
	shape  []int64 // canonical shape of the source
	src    formats.Tensor
	negExp bool // ssm_a = −exp(A_log)
}

// errStats accumulates a tensor's quantization error across row chunks.
type errStats struct {
	mu       sync.Mutex
	sse, ssx float64
}

// GGUFResult describes an export (or, with DryRun, its plan).
type GGUFResult struct {
	Path          string         `json:"path,omitempty"`
	Policy        string         `json:"policy"`
	Tensors       []GGUFTensor   `json:"tensors"`
	TensorBytes   int64          `json:"tensor_bytes"`
	FileBytes     int64          `json:"file_bytes,omitempty"`
	Params        int64          `json:"parameters"`
	BitsPerWeight float64        `json:"bits_per_weight"`
	TypeCounts    map[string]int `json:"type_counts"`
}

// ggufName maps a canonical tensor to its SambaY GGUF name (spec gguf.md §8.2).
func ggufName(c *reference.Config, s reference.TensorSpec) string {
	switch s.Name {
	case "model.embed_tokens.weight":
		return "token_embd.weight"
	case "lm_head.weight":
		return "output.weight"
	case "model.final_layernorm.weight":
		return "output_norm.weight"
	case "model.final_layernorm.bias":
		return "output_norm.bias"
	}
	p := fmt.Sprintf("model.layers.%d.", s.Layer)
	rest := strings.TrimPrefix(s.Name, p)
	b := fmt.Sprintf("blk.%d.", s.Layer)
	switch rest {
	case "input_layernorm.weight", "input_layernorm.bias":
		return b + "attn_norm." + leafOf(rest)
	case "post_attention_layernorm.weight", "post_attention_layernorm.bias":
		return b + "ffn_norm." + leafOf(rest)
	case "mlp.fc1.weight", "mlp.fc1.bias":
		return b + "ffn_up." + leafOf(rest)
	case "mlp.fc2.weight", "mlp.fc2.bias":
		return b + "ffn_down." + leafOf(rest)
	}
	rest = strings.TrimPrefix(rest, "attn.")
	switch {
	case s.Role.IsMamba():
		switch rest {
		case "in_proj.weight":
			return b + "ssm_in.weight"
		case "conv1d.weight", "conv1d.bias":
			return b + "ssm_" + rest
		case "x_proj.weight":
			return b + "ssm_x.weight"
		case "dt_proj.weight", "dt_proj.bias":
			return b + "ssm_dt." + leafOf(rest)
		case "A_log":
			return b + "ssm_a"
		case "D":
			return b + "ssm_d"
		case "out_proj.weight":
			return b + "ssm_out.weight"
		}
	case s.Role == reference.RoleGMU:
		return b + "gmu_" + strings.Replace(rest, "_proj", "", 1)
	default:
		switch {
		case strings.HasPrefix(rest, "Wqkv."):
			if s.Role == reference.RoleCross {
				return b + "attn_q." + leafOf(rest)
			}
			return b + "attn_qkv." + leafOf(rest)
		case strings.HasPrefix(rest, "out_proj."):
			return b + "attn_output." + leafOf(rest)
		case strings.HasPrefix(rest, "inner_cross_attn.lambda_"):
			return b + "attn_" + strings.TrimPrefix(rest, "inner_cross_attn.")
		case rest == "inner_cross_attn.subln.weight":
			return b + "attn_sub_norm.weight"
		}
	}
	return ""
}

func leafOf(s string) string { return s[strings.LastIndexByte(s, '.')+1:] }

// GGUFNames returns the canonical name → GGUF name map of a config.
func GGUFNames(c *reference.Config) map[string]string {
	m := map[string]string{}
	for _, s := range c.Tensors() {
		m[s.Name] = ggufName(c, s)
	}
	return m
}

func reversed(shape []int64) []uint64 {
	out := make([]uint64, len(shape))
	for i, d := range shape {
		out[len(shape)-1-i] = uint64(d)
	}
	return out
}

// ggufMetadata is the SambaY schema of spec gguf.md §8.1.
func ggufMetadata(c *reference.Config, policy string, quantized bool, name, sourceFormat string) []gguf.KV {
	u := func(v int) uint32 { return uint32(v) }
	kv := []gguf.KV{
		{Key: "general.architecture", Value: "sambay"},
		{Key: "general.alignment", Value: uint32(gguf.DefaultAlignment)},
		{Key: "general.file_type", Value: quant.FileType(policy)},
	}
	if quantized {
		kv = append(kv, gguf.KV{Key: "general.quantization_version", Value: uint32(2)})
	}
	if name != "" {
		kv = append(kv, gguf.KV{Key: "general.name", Value: name})
	}
	kv = append(kv,
		gguf.KV{Key: "sambay.context_length", Value: u(c.MaxPosition)},
		gguf.KV{Key: "sambay.embedding_length", Value: u(c.NEmbd)},
		gguf.KV{Key: "sambay.block_count", Value: u(c.NLayer)},
		gguf.KV{Key: "sambay.feed_forward_length", Value: u(c.Intermediate)},
		gguf.KV{Key: "sambay.vocab_size", Value: u(c.VocabSize)},
		gguf.KV{Key: "sambay.attention.head_count", Value: u(c.NHead)},
		gguf.KV{Key: "sambay.attention.head_count_kv", Value: u(c.NKVHead)},
		gguf.KV{Key: "sambay.attention.key_length", Value: u(c.HeadDim)},
		gguf.KV{Key: "sambay.attention.value_length", Value: u(c.HeadDim)},
	)
	if c.Norm == reference.LayerNorm {
		kv = append(kv, gguf.KV{Key: "sambay.attention.layer_norm_epsilon", Value: float32(c.NormEps)})
	} else {
		kv = append(kv, gguf.KV{Key: "sambay.attention.layer_norm_rms_epsilon", Value: float32(c.NormEps)})
	}
	pattern := gguf.Array{Type: gguf.TypeBool}
	layerTypes := gguf.Array{Type: gguf.TypeUint32}
	code := map[reference.Role]uint32{reference.RoleMamba: 0, reference.RoleSWA: 1, reference.RoleFullKV: 2,
		reference.RoleGMU: 3, reference.RoleCross: 4, reference.RoleMambaMemory: 5}
	for i := 0; i < c.NLayer; i++ {
		pattern.Values = append(pattern.Values, c.Role(i) == reference.RoleSWA)
		layerTypes.Values = append(layerTypes.Values, code[c.Role(i)])
	}
	kv = append(kv,
		gguf.KV{Key: "sambay.attention.sliding_window", Value: u(c.Window)},
		gguf.KV{Key: "sambay.attention.sliding_window_pattern", Value: pattern},
		gguf.KV{Key: "sambay.attention.scale", Value: float32(c.AttnScale)},
		gguf.KV{Key: "sambay.attention.differential", Value: c.DiffAttn},
	)
	if c.DAConstLamb {
		kv = append(kv, gguf.KV{Key: "sambay.attention.differential_lambda_const", Value: true})
	}
	if c.DiffAttn {
		kv = append(kv, gguf.KV{Key: "sambay.attention.sub_norm_rms_epsilon", Value: float32(1e-5)})
	}
	kv = append(kv, gguf.KV{Key: "sambay.layer_types", Value: layerTypes})
	if c.GMU {
		kv = append(kv, gguf.KV{Key: "sambay.memory_layer", Value: u(c.MemoryLayer())})
	}
	kv = append(kv,
		gguf.KV{Key: "sambay.kv_layer", Value: u(c.KVLayer())},
		gguf.KV{Key: "sambay.ssm.conv_kernel", Value: u(c.DConv)},
		gguf.KV{Key: "sambay.ssm.inner_size", Value: u(c.Di())},
		gguf.KV{Key: "sambay.ssm.state_size", Value: u(c.DState)},
		gguf.KV{Key: "sambay.ssm.time_step_rank", Value: u(c.DtRank)},
		gguf.KV{Key: "sambay.ssm.dt_b_c_rms", Value: false},
		gguf.KV{Key: "sambay.gmu.inner_size", Value: u(c.Dm())},
		gguf.KV{Key: "sambay.residual_scale", Value: float32(c.ResidualScale())},
		gguf.KV{Key: "sambay.logit_scale", Value: float32(c.LogitScale)},
	)
	if sourceFormat != "" {
		kv = append(kv, gguf.KV{Key: "sambay_conv.source_format", Value: sourceFormat})
	}
	return kv
}

// PlanGGUF lists the GGUF tensors of cfg in file order (spec gguf.md
// §8.2) with the type each gets under opts (policy, --pure, overrides) and
// its byte size, without reading any weights.
func PlanGGUF(cfg *reference.Config, opts GGUFOptions) (*GGUFResult, error) {
	var ts []GGUFTensor
	for _, s := range cfg.Tensors() {
		shape := s.Shape
		if strings.HasSuffix(s.Name, "conv1d.weight") {
			shape = []int64{s.Shape[0], s.Shape[2]} // [Di, 1, K] squeezed (spec §6)
		}
		ts = append(ts, GGUFTensor{Name: ggufName(cfg, s), Dims: reversed(shape), Source: s.Name, shape: s.Shape,
			negExp: strings.HasSuffix(s.Name, ".A_log")})
	}
	plan := make([]quant.PlanTensor, len(ts))
	for i, t := range ts {
		plan[i] = quant.PlanTensor{Name: t.Name, Dims: t.Dims}
	}
	choices, err := quant.Plan(opts.Policy, opts.Pure, opts.PureType, plan, cfg.NLayer, opts.Overrides)
	if err != nil {
		return nil, err
	}
	res := &GGUFResult{Policy: opts.Policy, TypeCounts: map[string]int{}}
	if opts.Pure {
		res.Policy = "pure " + opts.PureType.String()
	}
	for i := range ts {
		t := &ts[i]
		t.typ, t.Why = choices[i].Type, choices[i].Why
		t.Type = t.typ.String()
		info := gguf.TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.typ}
		if t.Bytes, err = info.Size(); err != nil {
			return nil, fmt.Errorf("gguf: tensor %s: %v", t.Name, err)
		}
		res.TensorBytes += t.Bytes
		res.Params += info.NumElements()
		res.TypeCounts[t.Type]++
	}
	res.Tensors = ts
	res.BitsPerWeight = 8 * float64(res.TensorBytes) / float64(res.Params)
	return res, nil
}

// ExportGGUF writes a canonical model folder as a SambaY GGUF file with the
// per-tensor types of a policy (spec gguf.md §5, §8). With DryRun it only
// returns the plan.
func ExportGGUF(ctx context.Context, modelDir string, opts GGUFOptions) (*GGUFResult, error) {
	cfg, _, st, err := openCanonical(modelDir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	res, err := PlanGGUF(&cfg, opts)
	if err != nil {
		return nil, err
	}
	ts := res.Tensors
	for i := range ts {
		t := &ts[i]
		src, ok := st.Tensor(t.Source)
		if !ok {
			return nil, fmt.Errorf("%w: %s: tensor %s is missing", ErrValidation, modelDir, t.Source)
		}
		if want := t.shape; !formats.EqualShape(src.Shape, want) || !src.DType.IsFloat() {
			return nil, fmt.Errorf("%w: %s: tensor %s is %v %s, want a float tensor of shape %s", ErrValidation, modelDir, t.Source, src.DType, formats.ShapeString(src.Shape), formats.ShapeString(want))
		}
		t.src = src
		t.stats = &errStats{}
	}
	quantized := false
	for _, t := range ts {
		quantized = quantized || t.typ.IsQuantized()
	}
	if opts.DryRun {
		return res, nil
	}
	kv := ggufMetadata(&cfg, opts.Policy, quantized, opts.Name, "")
	kv = append(kv, provenanceKVs(modelDir, cfg.NumParams())...)
	tk, err := tokenizerKVs(modelDir, cfg.VocabSize)
	if err != nil {
		return nil, err
	}
	kv = append(kv, tk...)
	return res, writeGGUF(ctx, opts.Output, kv, res)
}

// openCanonical reads a canonical folder's config and opens its shards for
// streaming (pread).
func openCanonical(dir string) (reference.Config, []byte, *safetensors.Model, error) {
	cb, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return reference.Config{}, nil, nil, err
	}
	cfg, _, err := ParseHFConfig(cb)
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("%w: %s: %v", ErrConfig, dir, err)
	}
	st, err := safetensors.OpenModelWith(dir, safetensors.OpenOptions{NoMmap: true})
	return cfg, cb, st, err
}

// writeGGUF encodes the planned tensors of res (sources attached) into a
// GGUF file and records each tensor's quantization NMSE.
func writeGGUF(ctx context.Context, path string, kv []gguf.KV, res *GGUFResult) error {
	srcs := make([]gguf.Source, len(res.Tensors))
	for i := range res.Tensors {
		t := &res.Tensors[i]
		srcs[i] = gguf.Source{Info: gguf.TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.typ}, EncodeRows: func(dst []byte, first, n int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return encodeRows(t, dst, first, n)
		}}
	}
	size, err := gguf.WriteFile(path, kv, srcs, gguf.WriteOptions{})
	if err != nil {
		return err
	}
	res.Path, res.FileBytes = path, size
	for i := range res.Tensors {
		if t := &res.Tensors[i]; t.stats.ssx > 0 {
			t.NMSE = t.stats.sse / t.stats.ssx
		}
	}
	return nil
}

// encodeRows widens rows [first, first+n) of the source to float32 and
// encodes them in the tensor's type, refusing input or output that ggml's
// row validation would reject.
func encodeRows(t *GGUFTensor, dst []byte, first, n int) error {
	ne0 := int(t.Dims[0])
	es := int64(t.src.DType.Size())
	raw := make([]byte, int64(n*ne0)*es)
	if _, err := t.src.ReadAt(raw, int64(first*ne0)*es); err != nil && len(raw) > 0 {
		return err
	}
	x := make([]float32, n*ne0)
	formats.DecodeFloat32(x, raw, t.src.DType)
	if t.negExp {
		for i, v := range x {
			x[i] = float32(-math.Exp(float64(v)))
		}
	}
	if i := formats.FirstNonFinite(f32bytes(x), formats.F32, len(x)); i >= 0 {
		return fmt.Errorf("row %d: element %d is not finite", first+i/ne0, i%ne0)
	}
	rb := t.typ.RowBytes(ne0)
	back := make([]float32, ne0)
	var sse, ssx float64
	for r := 0; r < n; r++ {
		row := dst[r*rb : (r+1)*rb]
		xr := x[r*ne0 : (r+1)*ne0]
		quant.QuantizeRow(t.typ, row, xr)
		if b := quant.ValidateRow(t.typ, row); b >= 0 {
			return fmt.Errorf("row %d: block %d of %v has a scale that overflows f16 (values beyond ±65504?); ggml would reject it", first+r, b, t.typ)
		}
		quant.DequantizeRow(t.typ, back, row)
		for i, v := range xr {
			d := float64(back[i]) - float64(v)
			sse += d * d
			ssx += float64(v) * float64(v)
		}
	}
	t.stats.mu.Lock()
	t.stats.sse += sse
	t.stats.ssx += ssx
	t.stats.mu.Unlock()
	return nil
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// provenanceKVs describes where a canonical folder came from, from its
// manifest.json when it has one: general.basename, general.size_label and
// the sambay_conv.source_* keys (format and source file digests).
func provenanceKVs(dir string, params int64) []gguf.KV {
	kv := []gguf.KV{{Key: "general.basename", Value: filepath.Base(filepath.Clean(dir))},
		{Key: "general.size_label", Value: sizeLabel(params)}}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return kv
	}
	var man Manifest
	if json.Unmarshal(b, &man) != nil {
		return kv
	}
	var digests []string
	for _, f := range man.Source.Files {
		digests = append(digests, filepath.Base(f.Name)+":"+f.SHA256)
	}
	kv = append(kv, gguf.KV{Key: "sambay_conv.source_format", Value: man.Source.Format},
		gguf.KV{Key: "sambay_conv.source_sha256", Value: strings.Join(digests, ",")},
		gguf.KV{Key: "sambay_conv.version", Value: man.Version})
	return kv
}

// sizeLabel formats a parameter count the way general.size_label does ("3.9B", "100K").
func sizeLabel(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.0fK", float64(n)/1e3)
}
