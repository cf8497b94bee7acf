package convert

import (
	"fmt"
	"math"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/ggml"
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

// ggufConfig reads the canonical config from SambaY GGUF metadata (spec
// gguf.md §8.1), checking types and the derived keys.
func ggufConfig(f *gguf.File) (reference.Config, error) {
	var errs []error
	u := func(k string) int {
		v, ok := f.Get(k)
		x, ok2 := v.(uint32)
		if !ok || !ok2 {
			errs = append(errs, fmt.Errorf("key %s missing or not UINT32", k))
		}
		return int(x)
	}
	fl := func(k string) (float64, bool) {
		v, ok := f.Get(k)
		x, ok2 := v.(float32)
		return float64(x), ok && ok2
	}
	b := func(k string) bool {
		v, _ := f.Get(k)
		x, _ := v.(bool)
		return x
	}
	arch, _ := f.Get("general.architecture")
	if arch != "sambay" {
		return reference.Config{}, fmt.Errorf("general.architecture %v: want sambay (files of the community phi4flash conversions use other conventions and are refused)", arch)
	}
	c := reference.Config{
		NLayer: u("sambay.block_count"), NEmbd: u("sambay.embedding_length"), NHead: u("sambay.attention.head_count"),
		NKVHead: u("sambay.attention.head_count_kv"), HeadDim: u("sambay.attention.key_length"),
		Intermediate: u("sambay.feed_forward_length"), VocabSize: u("sambay.vocab_size"),
		Window: u("sambay.attention.sliding_window"), DState: u("sambay.ssm.state_size"), DConv: u("sambay.ssm.conv_kernel"),
		DtRank: u("sambay.ssm.time_step_rank"), MaxPosition: u("sambay.context_length"),
		DiffAttn: b("sambay.attention.differential"), DAConstLamb: b("sambay.attention.differential_lambda_const"),
	}
	if c.NEmbd > 0 {
		c.Expand = u("sambay.ssm.inner_size") / c.NEmbd
	}
	if eps, ok := fl("sambay.attention.layer_norm_epsilon"); ok {
		c.Norm, c.NormEps = reference.LayerNorm, eps
	} else if eps, ok := fl("sambay.attention.layer_norm_rms_epsilon"); ok {
		c.Norm, c.NormEps = reference.RMSNorm, eps
	} else {
		errs = append(errs, fmt.Errorf("neither layer_norm_epsilon nor layer_norm_rms_epsilon"))
	}
	c.AttnScale, _ = fl("sambay.attention.scale")
	c.LogitScale, _ = fl("sambay.logit_scale")
	if rs, _ := fl("sambay.residual_scale"); rs != 1 {
		c.DepthScale = true
	}
	_, c.GMU = f.Get("sambay.memory_layer")
	_, hasOut := f.Tensor("output.weight")
	c.Tied = !hasOut
	_, c.QKVBias = f.Tensor("blk.1.attn_qkv.bias")
	_, c.AttnOutBias = f.Tensor("blk.1.attn_output.bias")
	_, c.MLPBias = f.Tensor("blk.0.ffn_up.bias")
	// The scale was written as float32; recover the exact default when it is one.
	if math.Abs(c.AttnScale-c.DefaultAttnScale()) < 1e-7 {
		c.AttnScale = c.DefaultAttnScale()
	}
	if len(errs) > 0 {
		return c, joinErrs(errs)
	}
	if v, ok := f.Get("sambay.layer_types"); ok {
		if a, ok := v.(gguf.Array); ok && len(a.Values) == c.NLayer {
			code := map[reference.Role]uint32{reference.RoleMamba: 0, reference.RoleSWA: 1, reference.RoleFullKV: 2,
				reference.RoleGMU: 3, reference.RoleCross: 4, reference.RoleMambaMemory: 5}
			for i, x := range a.Values {
				if x != code[c.Role(i)] {
					return c, fmt.Errorf("sambay.layer_types[%d] = %v disagrees with the SambaY layout (%v)", i, x, c.Role(i))
				}
			}
		} else {
			return c, fmt.Errorf("sambay.layer_types is not a UINT32 array of %d", c.NLayer)
		}
	}
	return c, c.Validate()
}

// LoadGGUF opens a SambaY GGUF file for the forward pass: quantized
// matrices are dequantized row by row inside the kernels.
func LoadGGUF(path string, opts reference.Options) (*LoadedModel, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ggufConfig(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	names := GGUFNames(&cfg)
	specs := map[string]reference.TensorSpec{}
	for _, s := range cfg.Tensors() {
		specs[s.Name] = s
		if strings.HasSuffix(s.Name, ".A_log") {
			a := strings.TrimSuffix(s.Name, "_log")
			names[a] = names[s.Name]
			specs[a] = s
			delete(names, s.Name)
		}
	}
	dtypeOf := map[ggml.Type]formats.DType{ggml.TypeF32: formats.F32, ggml.TypeF16: formats.F16, ggml.TypeBF16: formats.BF16}
	get := func(name string) (formats.Tensor, bool) {
		g, ok := names[name]
		if !ok {
			return formats.Tensor{}, false
		}
		ti, ok := f.Tensor(g)
		if !ok {
			return formats.Tensor{}, false
		}
		dt, ok := dtypeOf[ti.Type]
		if !ok {
			return formats.Tensor{}, false
		}
		b, err := f.Data(ti)
		if err != nil {
			return formats.Tensor{}, false
		}
		shape := specs[name].Shape
		if n, _ := formats.NumElements(shape); n != ti.NumElements() {
			return formats.Tensor{}, false
		}
		return formats.NewTensorBytes(name, dt, shape, path, b), true
	}
	q := func(name string) (reference.RowDecoder, int, int, bool) {
		g, ok := names[name]
		if !ok {
			return nil, 0, 0, false
		}
		ti, ok := f.Tensor(g)
		if !ok || len(ti.Dims) != 2 {
			return nil, 0, 0, false
		}
		t := ti.Type
		if !t.IsQuantized() || !quant.Supported(t) {
			return nil, 0, 0, false
		}
		b, err := f.Data(ti)
		if err != nil {
			return nil, 0, 0, false
		}
		cols := int(ti.Dims[0])
		return &quantRows{t: t, data: b, rowBytes: t.RowBytes(cols)}, int(ti.Dims[1]), cols, true
	}
	m, err := reference.LoadQuantized(cfg, get, q, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &LoadedModel{Model: m, Dir: path, Format: "gguf", closer: f}, nil
}
