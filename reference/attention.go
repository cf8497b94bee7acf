package reference

import (
	"math"

	"github.com/sambay-conv/sambay-conv/reference/internal/kernel"
)

// attention runs a sliding-window, full or cross attention layer over rows
// (docs/MODEL.md §4.8), with differential attention when configured (§4.9).
func (r *run) attention(i int, ly *layer, u []float32, rows int) []float32 {
	c := &r.m.Cfg
	H, G, hd := c.NHead, c.NKVHead, c.HeadDim
	Q, C := H*hd, G*hd
	ls := &r.st.layers[i]
	var q, keys, vals []float32
	var base int // absolute position of keys[0]
	if ly.role == RoleCross {
		q = r.linear(u, rows, &ly.wqkv, ly.bqkv)
		kv := &r.st.layers[c.KVLayer()]
		keys, vals = kv.k, kv.v // already holds this call's positions (trap 23)
	} else {
		qkv := r.linear(u, rows, &ly.wqkv, ly.bqkv)
		q = r.alloc(rows * Q)
		n := len(ls.k) / C
		base = r.pos - n
		// The cache grows in place (append amortises its copies: copying
		// it whole for every decoded token was O(n) per token).
		for t := 0; t < rows; t++ {
			row := qkv[t*(Q+2*C) : (t+1)*(Q+2*C)]
			copy(q[t*Q:], row[:Q])
			ls.k = append(ls.k, row[Q:Q+C]...)
			ls.v = append(ls.v, row[Q+C:]...)
		}
		keys, vals = ls.k, ls.v
	}
	out := r.alloc(rows * Q)
	scale := float32(c.AttnScale)
	P := H / G
	// Query rows are independent: split among threads.
	kernel.Parallel(rows, 1, func(lo, hi int) {
		scores := make([]float32, len(keys)/C)
		for t := lo; t < hi; t++ {
			p := r.pos + t
			a, b := keyRange(ly.role, p, base, c.Window)
			qt := q[t*Q : (t+1)*Q]
			ot := out[t*Q : (t+1)*Q]
			if !c.DiffAttn {
				for j := 0; j < H; j++ {
					g := j / P
					pr := r.softmax(qt[j*hd:(j+1)*hd], keys, C, g*hd, a, b, scale, scores)
					r.weighted(ot[j*hd:(j+1)*hd], pr, vals, C, g*hd, a)
				}
				continue
			}
			r.diffHeads(i, ly, qt, ot, keys, vals, a, b, scale, scores)
		}
	})
	if ly.role == RoleSWA && len(ls.k)/C >= 2*c.Window {
		// The next call needs the previous W−1 tokens (docs/MODEL.md §7);
		// the keys before them are dropped once they are W or more, so the
		// copy is paid once per W tokens, not per token.
		keep := (c.Window - 1) * C
		ls.k = append(ls.k[:0], ls.k[len(ls.k)-keep:]...)
		ls.v = append(ls.v[:0], ls.v[len(ls.v)-keep:]...)
	}
	return r.linear(out, rows, &ly.wo, ly.bo)
}

// softmax returns the attention probabilities of query q (one head) over
// keys[a..b] at column offset col, in fp32 with max subtraction.
func (r *run) softmax(q, keys []float32, stride, col, a, b int, scale float32, buf []float32) []float32 {
	hd := len(q)
	s := buf[:b-a+1]
	mx := float32(math.Inf(-1))
	for j := a; j <= b; j++ {
		k := keys[j*stride+col : j*stride+col+hd]
		var d float32
		for x := range q {
			d += float32(q[x] * k[x])
		}
		v := d * scale
		s[j-a] = v
		mx = max(mx, v)
	}
	var sum float32
	for j := range s {
		s[j] = exp32(s[j] - mx)
		sum += s[j]
	}
	for j := range s {
		s[j] /= sum
	}
	return s
}

// weighted writes R(Σ_j p_j·v_j) for values vals[a..] at column offset col.
func (r *run) weighted(out, p, vals []float32, stride, col, a int) {
	hd := len(out)
	for x := range out {
		out[x] = 0
	}
	for j, pj := range p {
		v := vals[(a+j)*stride+col : (a+j)*stride+col+hd]
		for x := range out {
			out[x] += float32(pj * v[x])
		}
	}
	r.roundAll(out)
}

// diffHeads computes one query row of differential attention (docs/MODEL.md §4.9):
// even/odd striping of q, k and v, GQA inside each half, four attention
// calls sharing two softmaxes, λ per layer, subln over 2·hd, ×(1−λinit),
// pair j written to head slots 2j and 2j+1.
func (r *run) diffHeads(i int, ly *layer, qt, ot, keys, vals []float32, a, b int, scale float32, scores []float32) {
	c := &r.m.Cfg
	H, G, hd := c.NHead, c.NKVHead, c.HeadDim
	C := G * hd
	P := H / G
	lamInit := c.LambdaInit(i)
	lf := r.lambdaFull(ly, lamInit)
	scaleOut := float32(1 - lamInit)
	a11, a12 := make([]float32, hd), make([]float32, hd)
	a21, a22 := make([]float32, hd), make([]float32, hd)
	x := make([]float32, 2*hd)
	for j := 0; j < H/2; j++ {
		kv1, kv2 := diffKV(j, P)
		k1, k2 := kv1*hd, kv2*hd
		q1, q2 := qt[2*j*hd:(2*j+1)*hd], qt[(2*j+1)*hd:(2*j+2)*hd]
		p1 := r.softmax(q1, keys, C, k1, a, b, scale, scores)
		r.weighted(a11, p1, vals, C, k1, a)
		r.weighted(a12, p1, vals, C, k2, a)
		p2 := r.softmax(q2, keys, C, k2, a, b, scale, scores)
		r.weighted(a21, p2, vals, C, k1, a)
		r.weighted(a22, p2, vals, C, k2, a)
		for d := 0; d < hd; d++ {
			x[d] = r.R(a11[d] - r.R(lf*a21[d]))
			x[hd+d] = r.R(a12[d] - r.R(lf*a22[d]))
		}
		// subln, HF form: n = R(x·rsqrt(mean(x²)+eps)), then R(w·n) (docs/MODEL.md §4.3).
		var ss float32
		for _, v := range x {
			ss += float32(v * v)
		}
		rs := float32(1 / math.Sqrt(float64(ss/float32(2*hd)+1e-5)))
		out := ot[2*j*hd : (2*j+2)*hd]
		for d, v := range x {
			n := r.R(v * rs)
			n = r.R(ly.subln[d] * n)
			out[d] = r.R(n * scaleOut)
		}
	}
}

// lambdaFull returns λ = R(R(R(exp(S1)) − R(exp(S2))) + λinit) (docs/MODEL.md §4.9 step 4).
func (r *run) lambdaFull(ly *layer, lamInit float64) float32 {
	dot := func(a, b []float32) float32 {
		var s float32
		for i := range a {
			p := float32(a[i] * b[i])
			if r.bf16 && r.m.Opts.RoundParamsBF16 {
				p = r.R(p)
			}
			s += p
		}
		if r.bf16 && r.m.Opts.RoundParamsBF16 {
			s = r.R(s)
		}
		return s
	}
	l1 := r.R(exp32(dot(ly.lq1, ly.lk1)))
	l2 := r.R(exp32(dot(ly.lq2, ly.lk2)))
	return r.R(r.R(l1-l2) + float32(lamInit))
}

// keyRange returns the inclusive range of key indices (into keys starting at
// absolute position base) that the query at absolute position p sees:
// W keys including its own for sliding-window layers, all earlier keys
// otherwise (docs/MODEL.md §4.8, trap 9).
func keyRange(role Role, p, base, window int) (int, int) {
	lo := base
	if role == RoleSWA {
		lo = max(base, p-(window-1))
	}
	return lo - base, p - base
}

// diffKV returns the original KV heads used by differential-attention pair
// j (query heads 2j and 2j+1) with P = H/G query heads per KV head: half-query
// j uses half-KV ⌊j/P⌋, i.e. KV heads 2⌊j/P⌋ and 2⌊j/P⌋+1 (docs/MODEL.md §4.9 step 2;
// not the plain-GQA ⌊2j/P⌋).
func diffKV(j, P int) (int, int) {
	g := j / P
	return 2 * g, 2*g + 1
}
