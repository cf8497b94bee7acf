package reference

import (
	"fmt"
	"math"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/reference/internal/kernel"
)

// Numerics selects the rounding of the forward pass (spec model.md §3).
type Numerics int

const (
	// FP32 computes in float32 everywhere with weights widened exactly:
	// the numerical ground truth.
	FP32 Numerics = iota
	// BF16 rounds to bfloat16 at the cast points of the CUDA implementation
	// (spec model.md §4.12), to compare like with like against bf16 GPU runs.
	BF16
)

func (n Numerics) String() string {
	if n == BF16 {
		return "bf16"
	}
	return "fp32"
}

// Options control how a model is loaded and run.
type Options struct {
	Numerics Numerics
	// RoundParamsBF16 rounds A_log and the DA lambdas to bf16 too in BF16
	// mode (transformers 4.46-era loading; spec model.md §3).
	RoundParamsBF16 bool
	// StateBF16 rounds the Mamba SSM state and conv window to bf16 after
	// every call, as HF's and vLLM's caches store them (spec model.md §7).
	StateBF16 bool
}

// A TensorSource hands out the canonical model's tensors by name.
type TensorSource func(name string) (formats.Tensor, bool)

// A QuantSource hands out matrices stored in a ggml block type (GGUF) or
// another row format: rows are dequantized inside the kernels, never as a
// whole. It is asked first for every matrix; ok false falls back to the
// TensorSource.
type QuantSource func(name string) (rows kernel.RowDecoder, rowsN, cols int, ok bool)

// RowDecoder is the interface quantized row formats implement.
type RowDecoder = kernel.RowDecoder

// Model is a loaded SambaY model: matrices stay in their stored bytes
// (typically an mmapped file) and are widened row by row when used; only
// vectors (norms, biases, conv taps, A, D, λ) are copied to float32.
type Model struct {
	Cfg    Config
	Opts   Options
	emb    kernel.Mat // [V, E]
	head   kernel.Mat // [V, E]; the embedding when tied
	normFW []float32
	normFB []float32
	layers []layer
}

type layer struct {
	role               Role
	n1w, n1b, n2w, n2b []float32
	fc1, fc2           kernel.Mat
	fc1b, fc2b         []float32

	// Mamba: in_proj [2Di, E], conv taps [Di, K], x_proj [R+2N, Di], dt_proj [Di, R], out_proj [E, Di].
	inProj, xProj, dtProj, outProj kernel.Mat
	convW, convB, dtB, A, D        []float32 // A = −exp(A_log), [Di, N]

	// GMU: in_proj [Dm, E], out_proj [E, Dm].
	gin, gout   kernel.Mat
	ginB, goutB []float32

	// Attention: Wqkv [(H+2G)·hd or H·hd, E], out_proj [E, H·hd].
	wqkv, wo           kernel.Mat
	bqkv, bo           []float32
	lq1, lk1, lq2, lk2 []float32
	subln              []float32
}

type loader struct {
	get  TensorSource
	q    QuantSource
	opts Options
	errs []string
}

func (l *loader) tensor(name string, shape []int64) (formats.Tensor, bool) {
	t, ok := l.get(name)
	if !ok {
		l.errs = append(l.errs, fmt.Sprintf("tensor %s is missing", name))
		return t, false
	}
	if !formats.EqualShape(t.Shape, shape) {
		l.errs = append(l.errs, fmt.Sprintf("tensor %s has shape %s, want %s", name, formats.ShapeString(t.Shape), formats.ShapeString(shape)))
		return t, false
	}
	return t, true
}

func (l *loader) mat(name string, rows, cols int) kernel.Mat {
	if l.q != nil {
		if dec, r, c, ok := l.q(name); ok {
			if r != rows || c != cols {
				l.errs = append(l.errs, fmt.Sprintf("tensor %s has shape [%d, %d], want [%d, %d]", name, r, c, rows, cols))
			}
			return kernel.Mat{Rows: rows, Cols: cols, Decoder: dec, RoundBF16: l.opts.Numerics == BF16}
		}
	}
	t, ok := l.tensor(name, []int64{int64(rows), int64(cols)})
	if !ok {
		return kernel.Mat{Rows: rows, Cols: cols, Data: make([]byte, 4*rows*cols)}
	}
	b, err := t.Bytes()
	if err != nil {
		l.errs = append(l.errs, err.Error())
		return kernel.Mat{Rows: rows, Cols: cols, Data: make([]byte, 4*rows*cols)}
	}
	m := kernel.Mat{Rows: rows, Cols: cols, Data: b}
	switch t.DType {
	case formats.BF16:
		m.Kind = kernel.BF16
	case formats.F16:
		m.Kind = kernel.F16
		m.RoundBF16 = l.opts.Numerics == BF16
	case formats.F32:
		m.Kind = kernel.F32
		m.RoundBF16 = l.opts.Numerics == BF16
	default:
		l.errs = append(l.errs, fmt.Sprintf("tensor %s: dtype %v is not supported by the forward pass", name, t.DType))
		m.Data = make([]byte, 4*rows*cols)
	}
	return m
}

// vec returns a tensor as float32, rounded to bf16 in BF16 mode unless it is
// A_log or a λ (kept as stored unless RoundParamsBF16).
func (l *loader) vec(name string, shape ...int64) []float32 {
	n, _ := formats.NumElements(shape)
	t, ok := l.tensor(name, shape)
	if !ok {
		return make([]float32, n)
	}
	v, err := t.Float32s()
	if err != nil {
		l.errs = append(l.errs, err.Error())
		return make([]float32, n)
	}
	leaf := name[strings.LastIndexByte(name, '.')+1:]
	keep := leaf == "A_log" || leaf == "A" || strings.HasPrefix(leaf, "lambda_")
	if l.opts.Numerics == BF16 && (!keep || l.opts.RoundParamsBF16) {
		for i := range v {
			v[i] = formats.RoundBF16(v[i])
		}
	}
	return v
}

func (l *loader) optVec(name string, present bool, shape ...int64) []float32 {
	if !present {
		return nil
	}
	return l.vec(name, shape...)
}

// Load builds a Model of configuration cfg over the tensors of get, which
// must be the canonical tensor set (names and shapes of Config.Tensors).
func Load(cfg Config, get TensorSource, opts Options) (*Model, error) {
	return LoadQuantized(cfg, get, nil, opts)
}

// LoadQuantized is Load with matrices that q provides in a row format. For
// Mamba layers the source may provide "model.layers.N.attn.A" (= −exp(A_log),
// [Di, N], as GGUF stores it) instead of A_log.
func LoadQuantized(cfg Config, get TensorSource, q QuantSource, opts Options) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &loader{get: get, q: q, opts: opts}
	c := &cfg
	E, V, I := c.NEmbd, c.VocabSize, c.Intermediate
	Di, R, N, K := c.Di(), c.DtRank, c.DState, c.DConv
	Q, C := c.QDim(), c.KVDim()
	m := &Model{Cfg: cfg, Opts: opts}
	m.emb = l.mat("model.embed_tokens.weight", V, E)
	if c.Tied {
		m.head = m.emb
	} else {
		m.head = l.mat("lm_head.weight", V, E)
	}
	ln := c.Norm == LayerNorm
	m.normFW = l.vec("model.final_layernorm.weight", int64(E))
	m.normFB = l.optVec("model.final_layernorm.bias", ln, int64(E))
	e, di, i2 := int64(E), int64(Di), int64(2*I)
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		a := p + "attn."
		ly := layer{role: c.Role(i)}
		ly.n1w = l.vec(p+"input_layernorm.weight", e)
		ly.n1b = l.optVec(p+"input_layernorm.bias", ln, e)
		ly.n2w = l.vec(p+"post_attention_layernorm.weight", e)
		ly.n2b = l.optVec(p+"post_attention_layernorm.bias", ln, e)
		ly.fc1 = l.mat(p+"mlp.fc1.weight", 2*I, E)
		ly.fc2 = l.mat(p+"mlp.fc2.weight", E, I)
		ly.fc1b = l.optVec(p+"mlp.fc1.bias", c.MLPBias, i2)
		ly.fc2b = l.optVec(p+"mlp.fc2.bias", c.MLPBias, e)
		switch ly.role {
		case RoleMamba, RoleMambaMemory:
			ly.inProj = l.mat(a+"in_proj.weight", 2*Di, E)
			ly.convW = l.vec(a+"conv1d.weight", di, 1, int64(K))
			ly.convB = l.vec(a+"conv1d.bias", di)
			ly.xProj = l.mat(a+"x_proj.weight", R+2*N, Di)
			ly.dtProj = l.mat(a+"dt_proj.weight", Di, R)
			ly.dtB = l.vec(a+"dt_proj.bias", di)
			if _, ok := get(a + "A"); ok {
				ly.A = l.vec(a+"A", di, int64(N))
			} else {
				ly.A = l.vec(a+"A_log", di, int64(N))
				for j, v := range ly.A {
					ly.A[j] = -float32(math.Exp(float64(v))) // A = −exp(A_log), fp32 (trap 7)
				}
			}
			ly.D = l.vec(a+"D", di)
			ly.outProj = l.mat(a+"out_proj.weight", E, Di)
		case RoleGMU:
			ly.gin = l.mat(a+"in_proj.weight", Di, E)
			ly.ginB = l.optVec(a+"in_proj.bias", c.MLPBias, di)
			ly.gout = l.mat(a+"out_proj.weight", E, Di)
			ly.goutB = l.optVec(a+"out_proj.bias", c.MLPBias, e)
		default:
			rows := Q
			if ly.role.IsSelfAttention() {
				rows = Q + 2*C
			}
			ly.wqkv = l.mat(a+"Wqkv.weight", rows, E)
			ly.bqkv = l.optVec(a+"Wqkv.bias", c.QKVBias, int64(rows))
			ly.wo = l.mat(a+"out_proj.weight", E, Q)
			ly.bo = l.optVec(a+"out_proj.bias", c.AttnOutBias, e)
			if c.DiffAttn {
				hd := int64(c.HeadDim)
				d := a + "inner_cross_attn."
				ly.lq1, ly.lk1 = l.vec(d+"lambda_q1", hd), l.vec(d+"lambda_k1", hd)
				ly.lq2, ly.lk2 = l.vec(d+"lambda_q2", hd), l.vec(d+"lambda_k2", hd)
				ly.subln = l.vec(d+"subln.weight", 2*hd)
			}
		}
		m.layers = append(m.layers, ly)
	}
	if len(l.errs) > 0 {
		if len(l.errs) > 8 {
			l.errs = append(l.errs[:8], fmt.Sprintf("… and %d more", len(l.errs)-8))
		}
		return nil, fmt.Errorf("reference: %s", strings.Join(l.errs, "; "))
	}
	return m, nil
}
