package reference

import (
	"fmt"
	"math"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/layout"
	"github.com/sambay-conv/sambay-conv/reference/internal/kernel"
)

// Numerics selects the rounding of the forward pass (docs/MODEL.md §3).
type Numerics int

const (
	// FP32 computes in float32 everywhere with weights widened exactly:
	// the numerical ground truth.
	FP32 Numerics = iota
	// BF16 rounds to bfloat16 at the cast points of the CUDA implementation
	// (docs/MODEL.md §4.12), to compare like with like against bf16 GPU runs.
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
	// mode (transformers 4.46-era loading; docs/MODEL.md §3).
	RoundParamsBF16 bool
	// StateBF16 rounds the Mamba SSM state and conv window to bf16 after
	// every call, as HF's and vLLM's caches store them (docs/MODEL.md §7).
	StateBF16 bool
	// ExactDot multiplies quantized matrices by widening their rows to
	// float32, never through a quantized activation (kernel.VecDotter).
	ExactDot bool
}

// A TensorSource hands out the canonical model's tensors by name.
type TensorSource func(name string) (formats.Tensor, bool)

// A StoredSource hands out a canonical tensor as a file stores it: in the
// canonical shape, with the transform the file applied to its values
// (layout.Same, or layout.NegExp for A = −exp(A_log) as GGUF stores it).
type StoredSource func(s TensorSpec) (t formats.Tensor, tr layout.Transform, ok bool)

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

	scratch scratch // activation buffers between runs
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
	get  StoredSource
	q    QuantSource
	opts Options
	errs []string
}

func (l *loader) tensor(s TensorSpec) (formats.Tensor, layout.Transform, bool) {
	t, tr, ok := l.get(s)
	if !ok {
		l.errs = append(l.errs, fmt.Sprintf("tensor %s is missing", s.Name))
		return t, tr, false
	}
	if !formats.EqualShape(t.Shape, s.Shape) {
		l.errs = append(l.errs, fmt.Sprintf("tensor %s has shape %s, want %s", s.Name, formats.ShapeString(t.Shape), formats.ShapeString(s.Shape)))
		return t, tr, false
	}
	return t, tr, true
}

// mat returns a matrix spec [rows, cols] in its stored row format.
func (l *loader) mat(s TensorSpec) kernel.Mat {
	rows, cols := int(s.Shape[0]), int(s.Shape[1])
	if l.q != nil {
		if dec, r, c, ok := l.q(s.Name); ok {
			if r != rows || c != cols {
				l.errs = append(l.errs, fmt.Sprintf("tensor %s has shape [%d, %d], want [%d, %d]", s.Name, r, c, rows, cols))
			}
			return kernel.Mat{Rows: rows, Cols: cols, Decoder: dec, RoundBF16: l.opts.Numerics == BF16, ExactDot: l.opts.ExactDot}
		}
	}
	t, _, ok := l.tensor(s)
	if !ok {
		return kernel.Mat{Rows: rows, Cols: cols} // the error is recorded; no model is returned
	}
	b, err := t.Bytes()
	if err != nil {
		l.errs = append(l.errs, err.Error())
		return kernel.Mat{Rows: rows, Cols: cols} // the error is recorded; no model is returned
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
		l.errs = append(l.errs, fmt.Sprintf("tensor %s: dtype %v is not supported by the forward pass", s.Name, t.DType))
		m.Data = nil
	}
	return m
}

// vec returns a tensor as float32, rounded to bf16 in BF16 mode unless it is
// kept F32 (A_log, the λs: kept as stored unless RoundParamsBF16). A_log
// comes back as A = −exp(A_log), computed here in fp32 unless the file
// stores A itself.
func (l *loader) vec(s TensorSpec) []float32 {
	t, tr, ok := l.tensor(s)
	if !ok {
		return nil // the error is recorded; no model is returned
	}
	v, err := t.Float32s()
	if err != nil {
		l.errs = append(l.errs, err.Error())
		return nil // the error is recorded; no model is returned
	}
	if l.opts.Numerics == BF16 && (!s.KeepF32 || l.opts.RoundParamsBF16) {
		for i := range v {
			v[i] = formats.RoundBF16(v[i])
		}
	}
	if s.Kind.ID == "mamba.A_log" && tr != layout.NegExp { // unless the file stores A itself
		for j, x := range v {
			v[j] = -float32(math.Exp(float64(x))) // A = −exp(A_log), fp32 (docs/MODEL.md §4.6)
		}
	}
	return v
}

// Load builds a Model of configuration cfg over the tensors of get, which
// must be the canonical tensor set (names and shapes of Config.Tensors).
func Load(cfg Config, get TensorSource, opts Options) (*Model, error) {
	return LoadQuantized(cfg, get, nil, opts)
}

// LoadQuantized is Load with matrices that q provides in a row format.
func LoadQuantized(cfg Config, get TensorSource, q QuantSource, opts Options) (*Model, error) {
	return LoadStored(cfg, func(s TensorSpec) (formats.Tensor, layout.Transform, bool) {
		t, ok := get(s.Name)
		return t, layout.Same, ok
	}, q, opts)
}

// LoadStored is LoadQuantized over tensors as a file stores them.
func LoadStored(cfg Config, get StoredSource, q QuantSource, opts Options) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &loader{get: get, q: q, opts: opts}
	m := &Model{Cfg: cfg, Opts: opts, layers: make([]layer, cfg.NLayer)}
	for i := range m.layers {
		m.layers[i].role = cfg.Role(i)
	}
	for _, s := range cfg.Tensors() {
		var ly *layer
		if s.Layer >= 0 {
			ly = &m.layers[s.Layer]
		}
		switch s.Kind.ID {
		case "embed":
			m.emb = l.mat(s)
		case "head":
			m.head = l.mat(s)
		case "final_norm.weight":
			m.normFW = l.vec(s)
		case "final_norm.bias":
			m.normFB = l.vec(s)
		case "norm1.weight":
			ly.n1w = l.vec(s)
		case "norm1.bias":
			ly.n1b = l.vec(s)
		case "norm2.weight":
			ly.n2w = l.vec(s)
		case "norm2.bias":
			ly.n2b = l.vec(s)
		case "mlp.fc1.weight":
			ly.fc1 = l.mat(s)
		case "mlp.fc1.bias":
			ly.fc1b = l.vec(s)
		case "mlp.fc2.weight":
			ly.fc2 = l.mat(s)
		case "mlp.fc2.bias":
			ly.fc2b = l.vec(s)
		case "mamba.in_proj.weight":
			ly.inProj = l.mat(s)
		case "mamba.conv1d.weight":
			ly.convW = l.vec(s)
		case "mamba.conv1d.bias":
			ly.convB = l.vec(s)
		case "mamba.x_proj.weight":
			ly.xProj = l.mat(s)
		case "mamba.dt_proj.weight":
			ly.dtProj = l.mat(s)
		case "mamba.dt_proj.bias":
			ly.dtB = l.vec(s)
		case "mamba.A_log":
			ly.A = l.vec(s)
		case "mamba.D":
			ly.D = l.vec(s)
		case "mamba.out_proj.weight":
			ly.outProj = l.mat(s)
		case "gmu.in_proj.weight":
			ly.gin = l.mat(s)
		case "gmu.in_proj.bias":
			ly.ginB = l.vec(s)
		case "gmu.out_proj.weight":
			ly.gout = l.mat(s)
		case "gmu.out_proj.bias":
			ly.goutB = l.vec(s)
		case "self.qkv.weight", "cross.q.weight":
			ly.wqkv = l.mat(s)
		case "self.qkv.bias", "cross.q.bias":
			ly.bqkv = l.vec(s)
		case "attn.out_proj.weight":
			ly.wo = l.mat(s)
		case "attn.out_proj.bias":
			ly.bo = l.vec(s)
		case "attn.lambda_q1":
			ly.lq1 = l.vec(s)
		case "attn.lambda_k1":
			ly.lk1 = l.vec(s)
		case "attn.lambda_q2":
			ly.lq2 = l.vec(s)
		case "attn.lambda_k2":
			ly.lk2 = l.vec(s)
		case "attn.subln.weight":
			ly.subln = l.vec(s)
		default:
			panic("reference: layout kind " + s.Kind.ID + " has no place in the model") // a new kind needs a field
		}
	}
	if cfg.Tied {
		m.head = m.emb
	}
	if len(l.errs) > 0 {
		if len(l.errs) > 8 {
			l.errs = append(l.errs[:8], fmt.Sprintf("… and %d more", len(l.errs)-8))
		}
		return nil, fmt.Errorf("reference: %s", strings.Join(l.errs, "; "))
	}
	return m, nil
}
