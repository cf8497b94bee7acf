package reference

import (
	"fmt"
	"math"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/reference/internal/kernel"
)

// State is the decoding state of one sequence (docs/MODEL.md §7): per Mamba
// layer the last K−1 pre-conv inputs and the SSM state, per SWA layer the
// last W−1 keys and values, the growing K/V of layer L/2+1. Its size is
// constant per token except for that one shared KV.
type State struct {
	Pos    int // tokens consumed so far
	layers []layerState
}

type layerState struct {
	conv []float32 // [K−1, Di], oldest first
	h    []float32 // [Di, N]
	k, v []float32 // [n, G·hd]: swa ≤ W−1 previous tokens; full_kv all tokens
}

// NewState returns the empty state of a new sequence.
func (m *Model) NewState() *State {
	c := &m.Cfg
	st := &State{layers: make([]layerState, c.NLayer)}
	for i := range st.layers {
		if c.Role(i).IsMamba() {
			st.layers[i].conv = make([]float32, (c.DConv-1)*c.Di())
			st.layers[i].h = make([]float32, c.Di()*c.DState)
		}
	}
	return st
}

// Want says what Run returns.
type Want struct {
	// AllLogits returns logits for every fed position; otherwise only the
	// last position's, and the cross-decoder (layers ≥ L/2+2) runs on the
	// last position only (docs/MODEL.md §7, "Prefill").
	AllLogits bool
	// Hidden returns the residual stream after every block (needs AllLogits).
	Hidden bool
	// Progress, when set, is called after each block with the number of
	// blocks done and their count.
	Progress func(done, total int)
}

// Result holds what Run computed.
type Result struct {
	Rows   int         // positions with logits
	Logits []float32   // [Rows, V]
	Hidden [][]float32 // per block, [T, E] (when asked)
}

// Run feeds ids through the model, continuing the sequence in st and
// updating it. A whole prompt in one call is prefill; one id per call is
// cached decoding; both run the same layer code over the rows they are given.
func (m *Model) Run(st *State, ids []int, want Want) (*Result, error) {
	c := &m.Cfg
	T := len(ids)
	if T == 0 {
		return nil, fmt.Errorf("reference: no tokens")
	}
	if want.Hidden && !want.AllLogits {
		return nil, fmt.Errorf("reference: hidden states need logits at every position")
	}
	E := c.NEmbd
	r := &run{m: m, st: st, pos: st.Pos, bf16: m.Opts.Numerics == BF16}
	x := r.alloc(T * E)
	row := make([]float32, E)
	for t, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return nil, fmt.Errorf("reference: token id %d at position %d outside the vocabulary [0, %d)", id, t, c.VocabSize)
		}
		m.emb.DecodeRow(id, row)
		copy(x[t*E:], row)
	}
	res := &Result{}
	rows := T
	var mem []float32    // GMU memory for the current rows [rows, Di]
	var memBuf []float32 // the buffer mem is in
	for i := range m.layers {
		mark := len(r.bufs)
		if i == c.NLayer/2+2 && !want.AllLogits && rows > 1 {
			// Linear prefill: the cross-decoder only needs the last position.
			x = x[(rows-1)*E:]
			if mem != nil {
				mem = mem[(rows-1)*c.Di():]
			}
			r.pos += rows - 1
			rows = 1
		}
		var h []float32
		u := r.norm(x, rows, m.layers[i].n1w, m.layers[i].n1b)
		switch ly := &m.layers[i]; ly.role {
		case RoleMamba, RoleMambaMemory:
			var mm []float32
			h, mm = r.mamba(i, ly, u, rows)
			if ly.role == RoleMambaMemory {
				mem, memBuf = mm, mm
			}
		case RoleGMU:
			h = r.gmu(ly, u, mem, rows)
		default:
			h = r.attention(i, ly, u, rows)
		}
		r.residual(x, h)
		u = r.norm(x, rows, m.layers[i].n2w, m.layers[i].n2b)
		r.residual(x, r.mlp(&m.layers[i], u, rows))
		if want.Hidden {
			res.Hidden = append(res.Hidden, append([]float32(nil), x...))
		}
		if want.Progress != nil {
			want.Progress(i+1, len(m.layers))
		}
		r.release(mark, memBuf) // the layer's activations serve the next layer
	}
	if !want.AllLogits && rows > 1 {
		// Only the last position's logits are wanted (models whose
		// cross-decoder is empty never took the branch above).
		x = x[(rows-1)*E:]
		r.pos += rows - 1
		rows = 1
	}
	y := r.norm(x, rows, m.normFW, m.normFB)
	if c.LogitScale != 1 {
		s := float32(c.LogitScale)
		for j := range y {
			y[j] = r.R(y[j] * s)
		}
	}
	res.Rows = rows
	res.Logits = make([]float32, rows*m.head.Rows) // the caller's: not from alloc
	r.linearInto(res.Logits, y, rows, &m.head, nil)
	st.Pos += T
	r.finish()
	return res, nil
}

// run carries one call's context.
type run struct {
	m     *Model
	st    *State
	pos   int // absolute position of the first current row
	bf16  bool
	bufs  [][]float32  // taken by alloc, given back by release and finish
	sizes map[int]bool // the sizes alloc was asked for
}

// R rounds to bf16 in BF16 mode (docs/MODEL.md §0 notation).
func (r *run) R(x float32) float32 {
	if r.bf16 {
		return formats.RoundBF16(x)
	}
	return x
}

func (r *run) roundAll(v []float32) {
	if r.bf16 {
		for i := range v {
			v[i] = formats.RoundBF16(v[i])
		}
	}
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

// linear returns R(X·Wᵀ + b) for rows of X (docs/MODEL.md §4.4: bias added before the one rounding).
func (r *run) linear(X []float32, rows int, W *kernel.Mat, b []float32) []float32 {
	Y := r.alloc(rows * W.Rows)
	r.linearInto(Y, X, rows, W, b)
	return Y
}

// linearInto is linear writing into Y.
func (r *run) linearInto(Y, X []float32, rows int, W *kernel.Mat, b []float32) {
	kernel.MatMul(Y, X, rows, W)
	if b != nil {
		for t := 0; t < rows; t++ {
			y := Y[t*W.Rows : (t+1)*W.Rows]
			for o := range y {
				y[o] += b[o]
			}
		}
	}
	r.roundAll(Y)
}

// norm applies the block norm to R(x) row by row (docs/MODEL.md §4.2, §4.3).
func (r *run) norm(x []float32, rows int, w, b []float32) []float32 {
	E := len(w)
	eps := float32(r.m.Cfg.NormEps)
	out := r.alloc(rows * E)
	in := make([]float32, E)
	for t := 0; t < rows; t++ {
		for j := range in {
			in[j] = r.R(x[t*E+j])
		}
		y := out[t*E : (t+1)*E]
		if r.m.Cfg.Norm == LayerNorm {
			var s float32
			for _, v := range in {
				s += v
			}
			mu := s / float32(E)
			var q float32
			for _, v := range in {
				d := v - mu
				q += float32(d * d)
			}
			rs := float32(1 / math.Sqrt(float64(q/float32(E)+eps)))
			for j, v := range in {
				y[j] = r.R(float32(float32((v-mu)*rs)*w[j]) + b[j])
			}
		} else {
			var q float32
			for _, v := range in {
				q += float32(v * v)
			}
			rs := float32(1 / math.Sqrt(float64(q/float32(E)+eps)))
			for j, v := range in {
				y[j] = r.R(float32(v*rs) * w[j])
			}
		}
	}
	return out
}

// residual adds a block output to the fp32 stream, with μP++ depth scaling
// R(h·inv), inv = 1.0f/f32(√(2L)) as PyTorch's CUDA division computes it
// (docs/MODEL.md §4.2).
func (r *run) residual(x, h []float32) {
	if r.m.Cfg.DepthScale {
		inv := 1 / float32(math.Sqrt(float64(2*r.m.Cfg.NLayer)))
		for j := range x {
			x[j] += r.R(h[j] * inv)
		}
		return
	}
	for j := range x {
		x[j] += h[j]
	}
}

// mlp is the SwiGLU MLP with fc1 = [gate | up] (docs/MODEL.md §4.5).
func (r *run) mlp(ly *layer, u []float32, rows int) []float32 {
	I := r.m.Cfg.Intermediate
	a := r.linear(u, rows, &ly.fc1, ly.fc1b)
	o := r.alloc(rows * I)
	kernel.Parallel(rows, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			for j := 0; j < I; j++ {
				g, up := a[t*2*I+j], a[t*2*I+I+j]
				o[t*I+j] = r.R(float32(g*up) / (1 + exp32(-g)))
			}
		}
	})
	return r.linear(o, rows, &ly.fc2, ly.fc2b)
}

// gmu is the gated memory unit out_proj(silu(in_proj(u)) ⊙ m) (docs/MODEL.md §4.7).
func (r *run) gmu(ly *layer, u, mem []float32, rows int) []float32 {
	g := r.linear(u, rows, &ly.gin, ly.ginB)
	kernel.Parallel(len(g), 4096, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			g[j] = r.R(float32(g[j]*mem[j]) / (1 + exp32(-g[j])))
		}
	})
	return r.linear(g, rows, &ly.gout, ly.goutB)
}

// mamba is the Mamba-1 mixer over rows with the layer's conv window and SSM
// state (docs/MODEL.md §4.6). It returns the block output and the scan output R(y)
// (the GMU memory; only the memory layer's is used).
func (r *run) mamba(i int, ly *layer, u []float32, rows int) ([]float32, []float32) {
	c := &r.m.Cfg
	Di, N, K, R := c.Di(), c.DState, c.DConv, c.DtRank
	ls := &r.st.layers[i]
	xz := r.linear(u, rows, &ly.inProj, nil)
	// Causal depthwise conv: window = K−1 stored inputs + the current one; tap K−1 is current.
	win := append(append([]float32(nil), ls.conv...), make([]float32, rows*Di)...)
	for t := 0; t < rows; t++ {
		copy(win[(K-1+t)*Di:(K+t)*Di], xz[t*2*Di:t*2*Di+Di])
	}
	cc := causalConv(win, rows, Di, K, ly.convW, ly.convB)
	kernel.Parallel(len(cc), 4096, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			s := cc[j]
			cc[j] = r.R(s / (1 + exp32(-s)))
		}
	})
	copy(ls.conv, win[rows*Di:])
	xdbl := r.linear(cc, rows, &ly.xProj, nil)
	W := R + 2*N
	dtr := r.alloc(rows * R)
	for t := 0; t < rows; t++ {
		copy(dtr[t*R:(t+1)*R], xdbl[t*W:t*W+R])
	}
	dpre := r.linear(dtr, rows, &ly.dtProj, nil) // no bias here (trap 6)
	y := r.alloc(rows * Di)
	// The selective scan: channels are independent, split among threads.
	kernel.Parallel(Di, 64, func(lo, hi int) {
		for d := lo; d < hi; d++ {
			h := ls.h[d*N : (d+1)*N]
			A := ly.A[d*N : (d+1)*N]
			for t := 0; t < rows; t++ {
				v := dpre[t*Di+d] + ly.dtB[d]
				delta := v
				if v <= 20 {
					delta = float32(math.Log1p(math.Exp(float64(v))))
				}
				cv := cc[t*Di+d]
				du := delta * cv
				B := xdbl[t*W+R : t*W+R+N]
				C := xdbl[t*W+R+N : t*W+R+2*N]
				acc := float32(ly.D[d] * cv)
				for n := 0; n < N; n++ {
					h[n] = float32(exp32(float32(delta*A[n]))*h[n]) + float32(du*B[n])
					acc += float32(C[n] * h[n])
				}
				y[t*Di+d] = acc
			}
		}
	})
	if r.m.Opts.StateBF16 {
		for j := range ls.h {
			ls.h[j] = formats.RoundBF16(ls.h[j])
		}
		for j := range ls.conv {
			ls.conv[j] = formats.RoundBF16(ls.conv[j])
		}
	}
	o := r.alloc(rows * Di)
	var mem []float32
	if ly.role == RoleMambaMemory {
		mem = r.alloc(rows * Di)
		for t := 0; t < rows; t++ {
			for d := 0; d < Di; d++ {
				z := xz[t*2*Di+Di+d]
				mv := r.R(y[t*Di+d])
				mem[t*Di+d] = mv
				o[t*Di+d] = r.R(float32(z*mv) / (1 + exp32(-z)))
			}
		}
	} else {
		for t := 0; t < rows; t++ {
			for d := 0; d < Di; d++ {
				z := xz[t*2*Di+Di+d]
				g := z / (1 + exp32(-z))
				o[t*Di+d] = r.R(y[t*Di+d] * g)
			}
		}
	}
	return r.linear(o, rows, &ly.outProj, nil), mem
}

// causalConv is the depthwise causal convolution before its SiLU (docs/MODEL.md §4.6,
// trap 5): win holds K−1 earlier inputs and then the rows' inputs, [K−1+rows,
// Di]; w is [Di, K] with tap K−1 on the current input; b is the bias.
func causalConv(win []float32, rows, Di, K int, w, b []float32) []float32 {
	out := make([]float32, rows*Di)
	for t := 0; t < rows; t++ {
		for d := 0; d < Di; d++ {
			s := b[d]
			for k := 0; k < K; k++ {
				s += float32(w[d*K+k] * win[(t+k)*Di+d])
			}
			out[t*Di+d] = s
		}
	}
	return out
}
