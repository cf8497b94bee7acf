package kernel

import "sync"

// The prefill product Y = X·Wᵀ for many rows of X (a prompt) as a blocked
// GEMM that returns MatMulRef's bits (docs/DESIGN.md §Matrix products).
//
// Every output keeps dotGo's 32 lanes, lane k summing the products of the
// elements i ≡ k (mod 32) in order of i, until the lanes are reduced by
// reduce32's tree. The lanes split into independent parts, one vector
// register each, and a micro-kernel takes one part of mr rows of X against
// nr rows of W. With AVX-512 (gemm6x4h) a part is 16 lanes and the tile
// 6×4: 24 outputs, 10 vector loads per 24 multiplies and 24 adds. With
// AVX2 only (gemm3x3q; 16 registers) a part is 8 lanes and the tile 3×3:
// 9 outputs, 6 loads per 9 multiplies and 9 adds.
//
// Blocking: rows of W are widened to float32 once, gemmKC columns at a
// time, into a group of panels of nr rows (about gemmWBytes, kept in L2);
// the group is taken against every mr rows of X, and the lanes of every
// output of the group and of a block of at most gemmTB rows of X wait in
// memory between chunks of K (the first chunk's calls start them from
// zero: clearing them apart cost 5 % of a product). With AVX-512 one call
// reads half of six rows' chunk of X (12 KiB), which stays in L1 while the
// group's panels stream past (8 KiB each): with chunks of 2560 the two
// came to 50 KiB, more than L1's 48, and X was read again from L2 at every
// call (one core: 101 GFLOP/s against 123 at M=128, K=2560, N=5120). The
// sizes were chosen by BenchmarkGEMM on the model's shapes (README,
// Performance).

const (
	gemmKC = 1024 // columns of a chunk of K (a multiple of 32)
	gemmTB = 192  // rows of X per block (bounds the lanes kept: 128 bytes per output)
	// gemmWBytes is the size of a group of widened panels.
	gemmWBytes = 256 << 10
)

// A gemmImpl is a micro-kernel and its shape. kern adds to acc (mr·nr
// outputs of 32/parts lanes each, output (r, c) at (r·nr+c)·32/parts), or
// with zero sets acc to, part q of the lanes of x_r · w_c over the first n
// elements (a multiple of 32), x_r = x[r·xs:] in order, w_c = w[c·ws:] in
// the panel layout (widenChunkGo). reduce sets out[j] to reduce32 of output
// j's 32 lanes, from its parts' blocks of acc (each mr·nr·32/parts floats)
// one after the other.
type gemmImpl struct {
	mr, nr, parts int
	kern          func(x []float32, xs int, w []float32, ws, n, q int, acc []float32, zero bool)
	reduce        func(acc, out []float32)
}

// gemmPartGo is the plain twin of every micro-kernel. X's rows hold their
// elements in order; W's rows are in the panel layout (widenChunkGo): part
// q's elements contiguous from q·n/parts.
func gemmPartGo(mr, nr, parts int, x []float32, xs int, w []float32, ws, n, q int, acc []float32, zero bool) {
	pw := 32 / parts
	if zero {
		clear(acc[:mr*nr*pw])
	}
	for r := range mr {
		xr := x[r*xs : r*xs+n]
		for c := range nr {
			wr := w[c*ws+q*n/parts : c*ws+(q+1)*n/parts]
			a := acc[(r*nr+c)*pw : (r*nr+c+1)*pw]
			for s := 0; s < n; s += 32 {
				for l := range pw {
					a[l] += float32(xr[s+q*pw+l] * wr[s/parts+l])
				}
			}
		}
	}
}

// reducePartsGo is the plain twin of every reduction: out[j] = reduce32 of
// output j's lanes, gathered from the parts' blocks of acc.
func reducePartsGo(outputs, parts int, acc, out []float32) {
	pw := 32 / parts
	for j := range outputs {
		var a [32]float32
		for q := range parts {
			copy(a[q*pw:(q+1)*pw], acc[(q*outputs+j)*pw:])
		}
		out[j] = reduce32(&a)
	}
}

// gemmWork is one goroutine's buffers for gemmRows, kept between calls:
// fresh ones cost a page fault per 4 KiB on first touch, which for the
// lanes and panels of a product came to a third of a prefill's time.
type gemmWork struct {
	panels, pad, row, lanes []float32
}

var gemmPool = sync.Pool{New: func() any { return new(gemmWork) }}

// grow returns (*b)[:n], reallocating *b if it is shorter.
func grow[E any](b *[]E, n int) []E {
	if cap(*b) < n {
		*b = make([]E, n)
	}
	return (*b)[:n]
}

// gemmRows computes Y[t, o] for every t < T and lo ≤ o < hi (see MatMul)
// with the micro-kernel g.
func gemmRows(Y, X []float32, T int, W *Mat, lo, hi int, g *gemmImpl) {
	in, out := W.Cols, W.Rows
	mr, nr, parts := g.mr, g.nr, g.parts
	pw, tile := 32/parts, mr*nr*32 // lanes per part; floats of lanes per tile
	kc := min(in, gemmKC)
	if W.Decoder != nil {
		// A row decoder widens whole rows: one chunk, not a row per chunk.
		kc = in
	}
	group := min(max(1, gemmWBytes/(4*nr*kc)), (hi-lo+nr-1)/nr) * nr // rows of W per group
	tb := min(T, gemmTB)
	ws := gemmPool.Get().(*gemmWork)
	defer gemmPool.Put(ws)
	panels := grow(&ws.panels, group*kc)
	lanes := grow(&ws.lanes, (tb+mr-1)/mr*(group/nr)*tile)
	pad := grow(&ws.pad, mr*in)       // a block's last rows of X, then zeros
	row := grow(&ws.row, max(in, kc)) // widenChunk's scratch
	sums := make([]float32, mr*nr)
	for t0 := 0; t0 < T; t0 += tb {
		t1 := min(T, t0+tb)
		steps := (t1 - t0 + mr - 1) / mr
		if tl := t0 + (steps-1)*mr; t1-tl < mr { // the block's last rows, then zeros
			copy(pad, X[tl*in:t1*in])
			clear(pad[(t1-tl)*in:])
		}
		for o0 := lo; o0 < hi; o0 += group {
			o1 := min(hi, o0+group)
			np := (o1 - o0 + nr - 1) / nr
			for k0 := 0; k0 < in; k0 += kc {
				k1 := min(in, k0+kc)
				kn := k1 - k0
				k32 := kn &^ 31 // k0 is a multiple of 32: lane of k0+i is i&31
				for o := o0; o < o0+np*nr; o++ {
					dst := panels[(o-o0)*kc : (o-o0)*kc+kn]
					if o < o1 {
						widenChunk(W, o, k0, dst, row, parts)
					} else {
						clear(dst) // past the last row: computed, never stored
					}
				}
				// The bytes of the next chunk of W, a slice per step.
				nlo, nhi, nk0 := o0, o1, k1
				if k1 == in {
					nlo, nhi, nk0 = o1, min(hi, o1+group), 0
				}
				per := (nhi - nlo + steps - 1) / steps
				for s := range steps {
					t := t0 + s*mr
					prefetchChunk(W, nlo+s*per, min(nhi, nlo+(s+1)*per), nk0, min(in, nk0+kc))
					nx := min(mr, t1-t)
					x := X[t*in+k0:]
					if nx < mr {
						x = pad[k0:]
					}
					l := lanes[s*np*tile : (s+1)*np*tile]
					for q := range parts {
						for p := range np {
							g.kern(x, in, panels[p*nr*kc:], kc, k32, q, l[p*tile+q*tile/parts:], k0 == 0)
						}
					}
					for i := k32; i < kn; i++ { // the chunk's tail, in order, after its 32-element steps
						q, j := (i&31)/pw, (i&31)%pw
						for p := range np {
							a := l[p*tile+q*tile/parts:]
							for r := range nx {
								for c := range nr {
									a[(r*nr+c)*pw+j] += float32(x[r*in+i] * panels[(p*nr+c)*kc+i])
								}
							}
						}
					}
				}
			}
			for s := range steps {
				t := t0 + s*mr
				nx := min(mr, t1-t)
				for p := range np {
					o := o0 + p*nr
					nw := min(nr, o1-o)
					g.reduce(lanes[(s*np+p)*tile:(s*np+p+1)*tile], sums)
					for r := range nx {
						copy(Y[(t+r)*out+o:(t+r)*out+o+nw], sums[r*nr:r*nr+nw])
					}
				}
			}
		}
	}
}

// widenChunkGo widens columns [k0, k0+len(dst)) of row i of W into dst in
// the panel layout of parts: of the first k32 = len(dst)&^31 elements,
// element 32s + q·pw + l (pw = 32/parts lanes per part) goes to
// q·k32/parts + s·pw + l, so that each part's elements are contiguous; the
// rest stay in place. row is scratch of max(W.Cols, len(dst)) floats.
func widenChunkGo(W *Mat, i, k0 int, dst, row []float32, parts int) {
	nat := row[:len(dst)]
	if W.Decoder == nil {
		W.decodeRange(i, k0, nat)
	} else {
		W.DecodeRow(i, row[:W.Cols])
		nat = row[k0 : k0+len(dst)]
	}
	k32, pw := len(dst)&^31, 32/parts
	for s := 0; s < k32; s += 32 {
		for q := range parts {
			copy(dst[q*k32/parts+s/parts:], nat[s+q*pw:s+(q+1)*pw])
		}
	}
	copy(dst[k32:], nat[k32:])
}
