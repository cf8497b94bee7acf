package kernel

import "sync"

// The prefill product Y = X·Wᵀ for many rows of X (a prompt) as a blocked
// GEMM that returns MatMulRef's bits (docs/DESIGN.md §Matrix products).
//
// Every output keeps dotGo's 32 lanes, lane k summing the products of the
// elements i ≡ k (mod 32) in order of i, until the lanes are reduced by
// reduce32's tree. The lanes are two independent halves (k < 16 and
// k ≥ 16), and the micro-kernel, gemm6x4h, takes one half of 6 rows of X
// against 4 rows of W: 24 outputs of one 16-lane register each, 10 vector
// loads per 24 multiplies and 24 adds.
//
// Blocking: rows of W are widened to float32 once, gemmKC columns at a
// time, into a group of panels of gemmNR rows (about gemmWBytes, kept in
// L2); the group is taken against every six rows of X, and the lanes of
// every output of the group and of a block of at most gemmTB rows of X
// wait in memory between chunks of K. One call reads half of six rows'
// chunk of X (12 KiB), which stays in L1 while the group's panels stream
// past (8 KiB each): with chunks of 2560 the two came to 50 KiB, more than
// L1's 48, and X was read again from L2 at every call (one core: 101
// GFLOP/s against 123 at M=128, K=2560, N=5120). The sizes were chosen by
// BenchmarkGEMM on the model's shapes (README, Performance).

const (
	gemmMR = 6    // rows of X per micro-kernel call
	gemmNR = 4    // rows of W per panel
	gemmKC = 1024 // columns of a chunk of K (a multiple of 32)
	gemmTB = 192  // rows of X per block (bounds the lanes kept: 3 KiB per 6×4 outputs)
	// gemmWBytes is the size of a group of widened panels.
	gemmWBytes = 256 << 10
)

// gemm6x4hGo is the plain twin of gemm6x4h: adds to acc[4r+c][l], in order
// of s, x_r[32s+16h+l]·w_c[32s+16h+l] for 32s < n, with x_r = x[r·xs:]
// and w_c = w[c·ws:].
func gemm6x4hGo(x []float32, xs int, w []float32, ws, n, h int, acc *[24][16]float32) {
	for r := range gemmMR {
		xr := x[r*xs : r*xs+n]
		for c := range gemmNR {
			wr := w[c*ws : c*ws+n]
			a := &acc[4*r+c]
			for i := 16 * h; i < n; i += 32 {
				for l := range 16 {
					a[l] += float32(xr[i+l] * wr[i+l])
				}
			}
		}
	}
}

// reduceHalvesGo is the plain twin of reduce24: out[j] = reduce32 of
// lo[j] ‖ hi[j].
func reduceHalvesGo(lo, hi *[24][16]float32, out *[24]float32) {
	for j := range lo {
		var a [32]float32
		copy(a[:16], lo[j][:])
		copy(a[16:], hi[j][:])
		out[j] = reduce32(&a)
	}
}

// A gemmKernel is gemm6x4hGo or its assembly; a gemmReduce is
// reduceHalvesGo or its assembly.
type (
	gemmKernel func(x []float32, xs int, w []float32, ws, n, h int, acc *[24][16]float32)
	gemmReduce func(lo, hi *[24][16]float32, out *[24]float32)
)

// gemmWork is one goroutine's buffers for gemmRows, kept between calls:
// fresh ones cost a page fault per 4 KiB on first touch, which for the
// lanes and panels of a product came to a third of a prefill's time.
type gemmWork struct {
	panels, pad, row []float32
	lanes            [][2][24][16]float32
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
// with the micro-kernel kern and the reduction reduce.
func gemmRows(Y, X []float32, T int, W *Mat, lo, hi int, kern gemmKernel, reduce gemmReduce) {
	in, out := W.Cols, W.Rows
	kc := min(in, gemmKC)
	group := min(max(1, gemmWBytes/(4*gemmNR*kc)), (hi-lo+gemmNR-1)/gemmNR) * gemmNR // rows of W per group
	tb := min(T, gemmTB)
	ws := gemmPool.Get().(*gemmWork)
	defer gemmPool.Put(ws)
	panels := grow(&ws.panels, group*kc)
	lanes := grow(&ws.lanes, (tb+gemmMR-1)/gemmMR*(group/gemmNR))
	pad := grow(&ws.pad, gemmMR*in) // the last rows of X, then zeros
	var row []float32               // a row decoder's whole row, when K is chunked
	if W.Decoder != nil && kc < in {
		row = grow(&ws.row, in)
	}
	var sums [24]float32
	for t0 := 0; t0 < T; t0 += tb {
		t1 := min(T, t0+tb)
		steps := (t1 - t0 + gemmMR - 1) / gemmMR
		for o0 := lo; o0 < hi; o0 += group {
			o1 := min(hi, o0+group)
			np := (o1 - o0 + gemmNR - 1) / gemmNR
			clear(lanes)
			for k0 := 0; k0 < in; k0 += kc {
				k1 := min(in, k0+kc)
				kn := k1 - k0
				k32 := kn &^ 31 // k0 is a multiple of 32: lane of k0+i is i&31
				for o := o0; o < o0+np*gemmNR; o++ {
					dst := panels[(o-o0)*kc : (o-o0)*kc+kn]
					if o < o1 {
						widenChunk(W, o, k0, dst, row)
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
					t := t0 + s*gemmMR
					prefetchChunk(W, nlo+s*per, min(nhi, nlo+(s+1)*per), nk0, min(in, nk0+kc))
					nx := min(gemmMR, t1-t)
					x := X[t*in+k0:]
					if nx < gemmMR {
						copy(pad, X[t*in:t1*in])
						clear(pad[nx*in:])
						x = pad[k0:]
					}
					l := lanes[s*np : (s+1)*np]
					for h := range 2 {
						for p := range np {
							kern(x, in, panels[p*gemmNR*kc:], kc, k32, h, &l[p][h])
						}
					}
					for i := k32; i < kn; i++ { // the chunk's tail, in order, after its 32-element steps
						h, j := (i&31)>>4, i&15
						for p := range np {
							for r := range nx {
								for c := range gemmNR {
									l[p][h][4*r+c][j] += float32(x[r*in+i] * panels[(p*gemmNR+c)*kc+i])
								}
							}
						}
					}
				}
			}
			for s := range steps {
				t := t0 + s*gemmMR
				nx := min(gemmMR, t1-t)
				for p := range np {
					o := o0 + p*gemmNR
					nw := min(gemmNR, o1-o)
					reduce(&lanes[s*np+p][0], &lanes[s*np+p][1], &sums)
					for r := range nx {
						copy(Y[(t+r)*out+o:(t+r)*out+o+nw], sums[4*r:4*r+nw])
					}
				}
			}
		}
	}
}

// widenChunkGo widens columns [k0, k0+len(dst)) of row i of W into dst;
// a row decoder widens the whole row into row (W.Cols floats) first.
func widenChunkGo(W *Mat, i, k0 int, dst, row []float32) {
	switch {
	case W.Decoder == nil:
		W.decodeRange(i, k0, dst)
	case k0 == 0 && len(dst) == W.Cols:
		W.DecodeRow(i, dst)
	default:
		W.DecodeRow(i, row)
		copy(dst, row[k0:])
	}
}
