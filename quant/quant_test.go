package quant

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"github.com/sambay-conv/sambay-conv/ggml"
)

// goldenInput is the reproducible generator of docs/QUANT.md §Test vectors.
func goldenInput(n int) []float32 {
	s := uint64(0x9E3779B97F4A7C15)
	next := func() uint32 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		return uint32(s >> 32)
	}
	x := make([]float32, n)
	for i := range x {
		u := float32(int32(next())) / 2147483648
		x[i] = float32(float32(u*u)*u) * float32(0.05)
	}
	return x
}

func fnvHex(b []byte) string {
	h := fnv.New64a()
	h.Write(b)
	return fmt.Sprintf("%016x", h.Sum64())
}

func quantizeAll(t ggml.Type, x []float32, rows, cols int) []byte {
	dst := make([]byte, rows*t.RowBytes(cols))
	Quantize(t, dst, x, rows, cols)
	return dst
}

var goldenTypes = []struct {
	t          ggml.Type
	full, f256 string
	ramp       string
	deq        string // the full tensor through ggml's dequantize_row_*, as float32 bytes
}{
	{ggml.TypeQ4_0, "ddd57edb36fe41fc", "fe713a0ebd9d9f45", "3c0fa4b5d84634c5", "28934974b67b2d24"},
	{ggml.TypeQ4_1, "323b05daef18010b", "9c7c2a2ccda32c3f", "68ee92a11575de15", "3d42ab43b96b8540"},
	{ggml.TypeQ5_0, "032a345b99a66307", "e789dc28f5b74924", "ee414e295461c3c5", "70c41bd2591d9991"},
	{ggml.TypeQ5_1, "7d842d32d07d728f", "fbe635b15e851a40", "753230825a697d25", "518ebc436e6a207b"},
	{ggml.TypeQ8_0, "1def03007fa90be4", "a41b13edd330ef7e", "e5c550795ef02c35", "2d5657e7f552a59c"},
	{ggml.TypeQ2_K, "28692c0ad1d8a72f", "b63dc02b56cac7e7", "2b7a4aadf87e0158", "76937608a94b45c3"},
	{ggml.TypeQ3_K, "9dfd23446b6fa0fc", "8f467c2cb54997ed", "5a27357b953ad563", "1f59f3eae9f681c9"},
	{ggml.TypeQ4_K, "fa88115209b68a8e", "452f1318dadd5a47", "e2aab70dcff7d490", "883b93621f651d0f"},
	{ggml.TypeQ5_K, "e4b68de5ca5a0209", "28c8fd55e5867cd1", "f29007f7dfe5062f", "a335e9ebbd993cfa"},
	{ggml.TypeQ6_K, "8bc6fb4bd6499d52", "21fe3ea32e34f665", "6d93e97b68cbff99", "0ad659cb446423ca"},
}

func TestGoldenInput(t *testing.T) {
	x := goldenInput(1 << 24)
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if got := fnvHex(b); got != "b12703f8a3c95df4" {
		t.Fatalf("input hash %s, want b12703f8a3c95df4", got)
	}
	for i, want := range []uint32{0xba908010, 0x3cc8e109, 0x3d35dc4a, 0x3b30d6f7} {
		if math.Float32bits(x[i]) != want {
			t.Errorf("x[%d] = %08x, want %08x", i, math.Float32bits(x[i]), want)
		}
	}
}

// TestGoldenFirstBlocksAndRamp checks ggml's output on the first 256 values,
// the explicit first blocks and the ramp vector (docs/QUANT.md §Test vectors).
func TestGoldenFirstBlocksAndRamp(t *testing.T) {
	x := goldenInput(256)
	ramp := make([]float32, 256)
	for i := range ramp {
		ramp[i] = float32(i%32) - 15.5
	}
	for _, g := range goldenTypes {
		if got := fnvHex(quantizeAll(g.t, x, 1, 256)); got != g.f256 {
			t.Errorf("%v first 256 values: %s, want %s", g.t, got, g.f256)
		}
		if got := fnvHex(quantizeAll(g.t, ramp, 1, 256)); got != g.ramp {
			t.Errorf("%v ramp: %s, want %s", g.t, got, g.ramp)
		}
	}
	for _, c := range []struct {
		t    ggml.Type
		in   []float32
		want string
	}{
		{ggml.TypeQ4_0, x[:32], "4c1e985c8f38a8748408888288d89ab8d777"},
		{ggml.TypeQ8_0, x[:32], "590efd3f730706b9c0fdfea900062700eaf409cf00b025ed00810000fd500a2f4ef8"},
		{ggml.TypeQ4_K, x, "52076812f7b2edeefe72e1e6ef8033f9385c6f88f813a46878a288787a68d777b875a8937a7758800898687d89ab1d87e5ec6833603a78f5026867170574656545843545686b4385636f7014b5260570665b5e377c5043d6eae0235707577997f207b7d4c93d53e6a767355b5c372818c78a8f878783898717bc678240d76647378787856c7c852003f78875c7e77746"},
		{ggml.TypeQ4_0, ramp[:32], "c03f809191a2a2b3b3c4c4d5d5e6e6f7f7f8"},
		{ggml.TypeQ8_0, ramp[:32], "d02f8189919aa2aab2bac3cbd3dbe3ecf4fc040c141d252d353d464e565e666f777f"},
	} {
		got := hex.EncodeToString(quantizeAll(c.t, c.in, 1, len(c.in)))
		if got != c.want {
			t.Errorf("%v block 0:\n got  %s\n want %s", c.t, got, c.want)
		}
	}
}

func TestZeroBlocks(t *testing.T) {
	zero := make([]float32, 256)
	neg := make([]float32, 256)
	for i := range neg {
		neg[i] = float32(math.Copysign(0, -1))
	}
	for _, g := range goldenTypes {
		b := quantizeAll(g.t, zero, 1, 256)
		blk := b[:g.t.RowBytes(g.t.BlockSize())]
		var want string
		switch g.t {
		case ggml.TypeQ4_0:
			want = "0080" + repeat("88", 16)
		case ggml.TypeQ5_0:
			want = "0080ffffffff" + repeat("00", 16)
		default:
			want = repeat("00", g.t.RowBytes(g.t.BlockSize()))
		}
		if got := hex.EncodeToString(blk); got != want {
			t.Errorf("%v zero block %s, want %s", g.t, got, want)
		}
	}
	for _, tt := range []ggml.Type{ggml.TypeQ4_1, ggml.TypeQ5_1} {
		if b := quantizeAll(tt, neg, 1, 256); b[2] != 0 || b[3] != 0x80 {
			t.Errorf("%v of −0: m = %02x%02x, want 0080", tt, b[2], b[3])
		}
	}
}

func repeat(s string, n int) string {
	out := ""
	for i := 0; i < n; i++ {
		out += s
	}
	return out
}

// TestGoldenFullTensor quantizes the full 4096×4096 tensor and dequantizes
// it again: only the full tensor catches fused multiply-adds (docs/QUANT.md
// §Test vectors).
func TestGoldenFullTensor(t *testing.T) {
	if testing.Short() {
		t.Skip("16.7 M values per type")
	}
	x := goldenInput(1 << 24)
	for _, g := range goldenTypes {
		b := quantizeAll(g.t, x, 4096, 4096)
		if got := fnvHex(b); got != g.full {
			t.Errorf("%v full tensor (%d bytes): %s, want %s", g.t, len(b), got, g.full)
		}
		y := make([]float32, len(x))
		for r := range 4096 {
			DequantizeRow(g.t, y[r*4096:(r+1)*4096], b[r*g.t.RowBytes(4096):])
		}
		if got := fnvHex(unsafe.Slice((*byte)(unsafe.Pointer(&y[0])), 4*len(y))); got != g.deq {
			t.Errorf("%v full tensor dequantized: %s, want %s", g.t, got, g.deq)
		}
	}
}

// TestRoundTripError bounds the dequantized error per type on the golden input.
func TestRoundTripError(t *testing.T) {
	x := goldenInput(64 * 256)
	var amax float64
	for _, v := range x {
		amax = math.Max(amax, math.Abs(float64(v)))
	}
	for _, c := range []struct {
		t      ggml.Type
		maxRel float64 // RMS error relative to RMS of x
	}{
		{ggml.TypeQ8_0, 0.01}, {ggml.TypeQ6_K, 0.03}, {ggml.TypeQ5_K, 0.06}, {ggml.TypeQ5_1, 0.06}, {ggml.TypeQ5_0, 0.07},
		{ggml.TypeQ4_K, 0.12}, {ggml.TypeQ4_1, 0.12}, {ggml.TypeQ4_0, 0.15}, {ggml.TypeQ3_K, 0.25}, {ggml.TypeQ2_K, 0.5},
		{ggml.TypeF16, 1e-3}, {ggml.TypeBF16, 5e-3},
	} {
		q := quantizeAll(c.t, x, 64, 256)
		y := make([]float32, len(x))
		for r := 0; r < 64; r++ {
			DequantizeRow(c.t, y[r*256:(r+1)*256], q[r*c.t.RowBytes(256):])
		}
		var se, sx float64
		for i := range x {
			d := float64(y[i]) - float64(x[i])
			se += d * d
			sx += float64(x[i]) * float64(x[i])
		}
		rel := math.Sqrt(se / sx)
		if rel > c.maxRel {
			t.Errorf("%v: relative RMS error %.4f > %.4f", c.t, rel, c.maxRel)
		}
		t.Logf("%v: relative RMS error %.5f, %.4g bits/weight", c.t, rel, c.t.BitsPerWeight())
	}
}

// TestSupportedTypes checks that every type with kernels is one ggml
// defines (its block layout comes from package ggml, which is checked
// against ggml's headers) and that ParseType accepts exactly those.
func TestSupportedTypes(t *testing.T) {
	n := 0
	for id := ggml.Type(0); id < ggml.TypeCount; id++ {
		_, err := ParseType(id.String())
		if Supported(id) {
			n++
			if !id.Known() {
				t.Errorf("kernels for type %d, which ggml does not define", id)
			}
			if err != nil {
				t.Errorf("ParseType(%q): %v", id, err)
			}
		} else if err == nil {
			t.Errorf("ParseType(%q) accepted a type without kernels", id)
		}
	}
	if n != 13 {
		t.Errorf("%d supported types, want 13 (F32, F16, BF16, Q4_0 … Q8_0, Q2_K … Q6_K)", n)
	}
}

// TestLegacyKernelsCrossCheck compares the block helpers (assembly where the
// machine has it) with their Go twins on edge blocks: ties of opposite sign,
// zeros with a leading −0, values at code boundaries.
func TestLegacyKernelsCrossCheck(t *testing.T) {
	var blocks [][qk]float32
	var b [qk]float32
	b[3], b[9] = -2, 2 // tie: the first (−2) wins
	blocks = append(blocks, b)
	b = [qk]float32{}
	b[0] = float32(math.Copysign(0, -1))
	blocks = append(blocks, b)
	for i := range b {
		b[i] = float32(i%16) - 7.5
	}
	blocks = append(blocks, b)
	for i := range b { // halves and their neighbours: roundf's ties
		b[i] = float32(i-16)*0.5 + []float32{0, 1e-7, -1e-7}[i%3]
	}
	blocks = append(blocks, b)
	for i := range b { // subnormals: d and 1/d round far from exact, or 1/d overflows
		b[i] = math.Float32frombits(uint32(i*i+1) | uint32(i%2)<<31)
	}
	blocks = append(blocks, b)
	for i := range b {
		b[i] = math.Float32frombits(uint32(i%5) * 0x00000007)
	}
	blocks = append(blocks, b)
	x := goldenInput(64 * qk)
	for k := 0; k < 64; k++ {
		copy(b[:], x[k*qk:])
		blocks = append(blocks, b)
	}
	for k, blk := range blocks {
		a1, m1 := signedAbsMax(&blk)
		a2, m2 := signedAbsMaxGo(&blk)
		if math.Float32bits(a1) != math.Float32bits(a2) || math.Float32bits(m1) != math.Float32bits(m2) {
			t.Fatalf("block %d: signedAbsMax (%v, %v), Go twin (%v, %v)", k, a1, m1, a2, m2)
		}
		var id float32
		if d := m1 / -8; d != 0 {
			id = 1 / d
		}
		var o1, o2 [16]byte
		q4_0Pack(o1[:], &blk, id)
		q4_0PackGo(o2[:], &blk, id)
		if o1 != o2 {
			t.Fatalf("block %d: q4_0Pack % x, Go twin % x", k, o1, o2)
		}
		var id5 float32
		if d := m1 / -16; d != 0 {
			id5 = 1 / d
		}
		for _, scale := range []float32{id5, id5 * 1.0000001, -id5, 3} { // 3: codes past the clamp and below zero
			var p1, p2 [16]byte
			h1 := q5_0Pack(p1[:], &blk, scale)
			h2 := q5_0PackGo(p2[:], &blk, scale)
			if p1 != p2 || h1 != h2 {
				t.Fatalf("block %d scale %v: q5_0Pack % x %08x, Go twin % x %08x", k, scale, p1, h1, p2, h2)
			}
		}
		var id8 float32
		if d := a1 / 127; d != 0 {
			id8 = 1 / d
		}
		for _, scale := range []float32{id8, 1, 0.5, 3.0000002} { // ties at .5 and just around them
			var p1, p2 [32]byte
			q8_0Pack(p1[:], &blk, scale)
			q8_0PackGo(p2[:], &blk, scale)
			if p1 != p2 {
				t.Fatalf("block %d scale %v: q8_0Pack % x, Go twin % x", k, scale, p1, p2)
			}
		}
		mn, mx := minMaxBlock(&blk)
		mn2, mx2 := minMax(blk[:])
		if math.Float32bits(mn) != math.Float32bits(mn2) || math.Float32bits(mx) != math.Float32bits(mx2) {
			t.Fatalf("block %d: minMaxBlock (%v, %v), ggml's order (%v, %v)", k, mn, mx, mn2, mx2)
		}
		for _, c := range []struct {
			levels float32
			clamp  int32
		}{{15, 15}, {31, math.MaxInt32}} {
			var id float32
			if d := (mx - mn) / c.levels; d != 0 {
				id = 1 / d
			}
			for _, scale := range []float32{id, id * 1.0000001, 2} { // 2: codes past the clamp
				var p1, p2 [16]byte
				h1 := affinePack(p1[:], &blk, mn, scale, 0.5, c.clamp)
				h2 := affinePackGo(p2[:], &blk, mn, scale, 0.5, c.clamp)
				if p1 != p2 || h1 != h2 {
					t.Fatalf("block %d levels %v scale %v: affinePack % x %08x, Go twin % x %08x", k, c.levels, scale, p1, h1, p2, h2)
				}
			}
		}
	}
	// Zeros of both signs: ggml keeps the first it meets.
	var z [qk]float32
	z[0], z[7] = float32(math.Copysign(0, -1)), 1
	if mn, _ := minMaxBlock(&z); !math.Signbit(float64(mn)) {
		t.Error("minMaxBlock: a −0 met first was not kept as the minimum")
	}
	z[0], z[2], z[5] = 0, float32(math.Copysign(0, -1)), 0
	if mn, _ := minMaxBlock(&z); math.Signbit(float64(mn)) {
		t.Error("minMaxBlock: a +0 met first was not kept as the minimum")
	}
}

func TestQuantizeIndependentOfThreads(t *testing.T) {
	x := goldenInput(37 * 512)
	for _, g := range goldenTypes {
		prev := runtime.GOMAXPROCS(1)
		one := quantizeAll(g.t, x, 37, 512)
		runtime.GOMAXPROCS(4)
		four := quantizeAll(g.t, x, 37, 512)
		runtime.GOMAXPROCS(prev)
		if fnvHex(one) != fnvHex(four) {
			t.Errorf("%v: output depends on the number of threads", g.t)
		}
	}
}

// TestQxQuants8: eight searches side by side give, lane by lane, the
// scale and codes of makeQxQuants bit for bit, with the fast kernel and
// its Go twin, on random sub-blocks and on zero, tiny, tied, ramp and
// signed-zero ones.
func TestQxQuants8(t *testing.T) {
	x := goldenInput(4096 * 16)
	var blocks []*[16]float32
	for k := 0; k < 4096; k++ {
		blocks = append(blocks, (*[16]float32)(x[16*k:]))
	}
	var zero, tiny, tie, ramp, negz [16]float32
	tiny[3] = 1e-20
	tie[3], tie[7] = -2, 2
	for i := range ramp {
		ramp[i] = float32(i) - 7.5
	}
	negz = ramp
	negz[0] = float32(math.Copysign(0, -1))
	blocks = append([]*[16]float32{&zero, &tiny, &tie, &ramp, &negz}, blocks...)
	blocks = blocks[:len(blocks)/8*8]
	bothKernels(func(pass int) {
		for g := 0; g < len(blocks); g += 8 {
			var xs [8]*[16]float32
			var got [8][16]int8
			var ls [8]*[16]int8
			for k := range 8 {
				xs[k], ls[k] = blocks[g+k], &got[k]
			}
			s := makeQxQuants8(32, &xs, &ls)
			for k := range 8 {
				var want [16]int8
				w := makeQxQuants(16, 32, xs[k][:], want[:])
				if math.Float32bits(s[k]) != math.Float32bits(w) || got[k] != want {
					t.Fatalf("pass %d block %d: %v %v, makeQxQuants %v %v", pass, g+k, s[k], got[k], w, want)
				}
			}
		}
	})
}

// TestQkx2LanesLayout: the field offsets the assembly kernel uses.
func TestQkx2LanesLayout(t *testing.T) {
	var q qkx2Lanes
	got := []uintptr{unsafe.Offsetof(q.x), unsafe.Offsetof(q.w), unsafe.Offsetof(q.mn), unsafe.Offsetof(q.mx), unsafe.Offsetof(q.sumW),
		unsafe.Offsetof(q.sumX), unsafe.Offsetof(q.scale), unsafe.Offsetof(q.bestErr), unsafe.Offsetof(q.num), unsafe.Offsetof(q.laux), unsafe.Offsetof(q.L)}
	want := []uintptr{0, 1024, 2048, 2080, 2112, 2144, 2176, 2208, 2240, 2368, 3392}
	if !slices.Equal(got, want) {
		t.Errorf("qkx2Lanes offsets %v, kquant_amd64.s uses %v", got, want)
	}
	var r q3Lanes
	got = []uintptr{unsafe.Offsetof(r.x), unsafe.Offsetof(r.w), unsafe.Offsetof(r.wx), unsafe.Offsetof(r.L), unsafe.Offsetof(r.sumlx), unsafe.Offsetof(r.suml2), unsafe.Offsetof(r.amax)}
	if want = []uintptr{0, 512, 1024, 1536, 2048, 2080, 2112}; !slices.Equal(got, want) {
		t.Errorf("q3Lanes offsets %v, kquant_amd64.s uses %v", got, want)
	}
	var p qxLanes
	got = []uintptr{unsafe.Offsetof(p.x), unsafe.Offsetof(p.w), unsafe.Offsetof(p.wx), unsafe.Offsetof(p.L), unsafe.Offsetof(p.laux),
		unsafe.Offsetof(p.num), unsafe.Offsetof(p.scale), unsafe.Offsetof(p.amax)}
	if want = []uintptr{0, 512, 1024, 1536, 2048, 2560, 2688, 2720}; !slices.Equal(got, want) {
		t.Errorf("qxLanes offsets %v, kquant_amd64.s uses %v", got, want)
	}
}

// TestQ3Quants8: eight refinements side by side give, lane by lane, the
// scale and codes of makeQ3Quants bit for bit, with the fast kernel and its
// Go twin, on random sub-blocks and on zero, tiny, tied and ramp ones.
func TestQ3Quants8(t *testing.T) {
	x := goldenInput(512 * 16)
	var subs []*[16]float32
	for k := 0; k < 512; k++ {
		subs = append(subs, (*[16]float32)(x[16*k:]))
	}
	var zero, tiny, tie, ramp [16]float32
	tiny[3] = 1e-20
	tie[2], tie[9] = -1, 1
	for i := range ramp {
		ramp[i] = float32(i) - 7.5
	}
	subs = append([]*[16]float32{&zero, &tiny, &tie, &ramp}, subs...)
	subs = subs[:len(subs)/8*8]
	bothKernels(func(pass int) {
		for g := 0; g < len(subs); g += 8 {
			var xs [8]*[16]float32
			var got [8][16]int8
			var ls [8]*[16]int8
			for k := range 8 {
				xs[k], ls[k] = subs[g+k], &got[k]
			}
			s := makeQ3Quants8(4, &xs, &ls)
			for k := range 8 {
				var want [16]int8
				w := makeQ3Quants(4, xs[k], &want)
				if math.Float32bits(s[k]) != math.Float32bits(w) || got[k] != want {
					t.Fatalf("pass %d sub-block %d: %v %v, makeQ3Quants %v %v", pass, g+k, s[k], got[k], w, want)
				}
			}
		}
	})
}

// TestQkx2Quants8: eight searches side by side give, lane by lane, the
// scale, min and codes of makeQkx2Quants bit for bit, with the fast kernel
// and its Go twin, for Q4_K/Q5_K's and Q2_K's settings, on random
// sub-blocks and on constant, all-positive, single-outlier and zero ones.
func TestQkx2Quants8(t *testing.T) {
	x := goldenInput(64 * 8 * 32)
	var subs [][]float32
	for k := 0; k < 64*8; k++ {
		subs = append(subs, x[32*k:32*k+32])
	}
	special := [][]float32{make([]float32, 32), make([]float32, 32), make([]float32, 32), make([]float32, 32)}
	for i := range 32 {
		special[1][i] = 0.25 // constant
		special[2][i] = 0.01 * float32(i+1)
	}
	special[3][5] = 3 // one outlier among zeros
	subs = append(special, subs...)
	for len(subs)%8 != 0 {
		subs = subs[:len(subs)-1]
	}
	for _, c := range []struct {
		n, nmax, nstep int
		rmin           float32
		mad            bool
	}{{32, 15, 20, -1, false}, {32, 31, 15, -0.5, false}, {16, 3, 15, -0.5, true}} {
		bothKernels(func(pass int) {
			for g := 0; g < len(subs); g += 8 {
				var xs, ws [8][]float32
				var Ls [8][]uint8
				var want [8][32]uint8
				var wantS, wantM [8]float32
				for k := range 8 {
					xs[k] = subs[g+k][:c.n]
					ws[k] = make([]float32, c.n)
					var sumX2 float32
					for _, v := range xs[k] {
						sumX2 += float32(v * v)
					}
					av := float32(math.Sqrt(float64(sumX2 / float32(c.n))))
					for i, v := range xs[k] {
						ws[k][i] = av + abs32(v)
					}
					Ls[k] = make([]uint8, c.n)
					var aux [32]uint8
					wantS[k], wantM[k] = makeQkx2Quants(c.n, c.nmax, xs[k], ws[k], want[k][:], aux[:], c.rmin, 0.1, c.nstep, c.mad)
				}
				s, m := makeQkx2Quants8(c.n, c.nmax, &xs, &ws, &Ls, c.rmin, 0.1, c.nstep, c.mad)
				for k := range 8 {
					if math.Float32bits(s[k]) != math.Float32bits(wantS[k]) || math.Float32bits(m[k]) != math.Float32bits(wantM[k]) || !slices.Equal(Ls[k], want[k][:c.n]) {
						t.Fatalf("n %d nmax %d pass %d sub-block %d: (%v, %v) %v, makeQkx2Quants (%v, %v) %v", c.n, c.nmax, pass, g+k, s[k], m[k], Ls[k], wantS[k], wantM[k], want[k][:c.n])
					}
				}
			}
		})
	}
}

// TestDequantLegacyKernels checks the assembly dequantizers of the legacy
// types against their Go loops bit for bit, on random blocks whose f16
// scales run through all 65536 values (NaN payloads, infinities,
// subnormals, negative zero) and whose codes are random bytes.
func TestDequantLegacyKernels(t *testing.T) {
	s := uint64(0x243F6A8885A308D3)
	next := func() uint64 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		return s
	}
	const nb = 1 << 16
	for _, typ := range []ggml.Type{ggml.TypeQ4_0, ggml.TypeQ4_1, ggml.TypeQ5_0, ggml.TypeQ5_1, ggml.TypeQ8_0} {
		bs := typ.RowBytes(qk)
		src := make([]byte, nb*bs)
		for i := range src {
			src[i] = byte(next())
		}
		for b := 0; b < nb; b++ { // the first scale takes every value; the second (Q4_1, Q5_1) too, in another order
			binary.LittleEndian.PutUint16(src[b*bs:], uint16(b))
			if typ == ggml.TypeQ4_1 || typ == ggml.TypeQ5_1 {
				binary.LittleEndian.PutUint16(src[b*bs+2:], uint16(b*40503+7))
			}
		}
		// Rows of several lengths, so a kernel that reads or writes past its
		// last block, or stops early, shows.
		for _, n := range []int{1, 2, 7, nb} {
			fast := make([]float32, n*qk+1)
			plain := make([]float32, n*qk+1)
			fast[n*qk], plain[n*qk] = 42, 42
			row := src[(nb-n)*bs:]
			DequantizeRow(typ, fast[:n*qk], row)
			restore := plainKernels()
			DequantizeRow(typ, plain[:n*qk], row)
			restore()
			for i := range fast {
				if math.Float32bits(fast[i]) != math.Float32bits(plain[i]) {
					b := i / qk
					t.Fatalf("%v, %d blocks: element %d (block bytes % x): kernel %v (%08x), Go loop %v (%08x)", typ, n, i,
						row[b*bs:min(len(row), (b+1)*bs)], fast[i], math.Float32bits(fast[i]), plain[i], math.Float32bits(plain[i]))
				}
			}
		}
	}
}

// TestGoldenSubnormals pins blocks whose scale is subnormal (1/d inexact
// or infinite) against ggml's reference quantizers: FNV-1a-64 of the two
// rows of docs/QUANT.md §Test vectors quantized one after the other.
func TestGoldenSubnormals(t *testing.T) {
	want := map[ggml.Type]string{
		ggml.TypeQ4_0: "4a8adbc8232bf9a5", ggml.TypeQ4_1: "3041b649c6dcbc25", ggml.TypeQ5_0: "5f50902be7dfa6a5",
		ggml.TypeQ5_1: "e5a964c7f22a0125", ggml.TypeQ8_0: "9986ba9af2021da5", ggml.TypeQ2_K: "35da762063936645",
		ggml.TypeQ3_K: "4fdcd09a664840d5", ggml.TypeQ4_K: "66e368127e9e89a5", ggml.TypeQ5_K: "9e75518fa8bfeea5",
		ggml.TypeQ6_K: "805e5df2842b8c75",
	}
	x := make([]float32, 2*QK_K)
	for i := range x {
		j := uint32(i % 32)
		if i < QK_K {
			x[i] = math.Float32frombits(j*j + 1 | j%2<<31)
		} else {
			x[i] = math.Float32frombits(7 * (j % 5))
		}
	}
	for typ, h := range want {
		bothKernels(func(pass int) {
			rb := typ.RowBytes(QK_K)
			out := make([]byte, 2*rb)
			QuantizeRow(typ, out[:rb], x[:QK_K])
			QuantizeRow(typ, out[rb:], x[QK_K:])
			if got := fnvHex(out); got != h {
				t.Errorf("%v (pass %d, 1: Go twins): FNV %s, ggml %s", typ, pass, got, h)
			}
		})
	}
}

// bothKernels runs f with the kernels this machine uses (pass 0), then
// with the plain Go twins (pass 1).
func bothKernels(f func(pass int)) {
	f(0)
	restore := plainKernels()
	defer restore()
	f(1)
}

// TestWholeBlockKernels checks the whole-block kernels of Q4_0, Q5_0 and
// Q8_0 (largest magnitude, scale through ggml's f16 conversion, codes) and Q4_1/Q5_1
// (minimum, maximum, both scales, codes) against the Go loops bit for bit:
// on blocks whose values span every float32 exponent (f16 subnormals,
// overflow to infinity), on infinities and NaNs (Q4_0, Q5_0 and Q8_0 hand
// a block with a NaN back to the Go loop), and on blocks whose minimum or maximum is a zero
// of either sign (which Q4_1/Q5_1 hand back).
func TestWholeBlockKernels(t *testing.T) {
	s := uint64(0x13198A2E03707344)
	next := func() uint32 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		return uint32(s >> 32)
	}
	var x []float32
	for b := 0; b < 20000; b++ {
		v := math.Float32frombits(next())
		for j := 0; j < qk; j++ {
			r := math.Float32frombits(next()&0x807fffff | 0x3f000000) // ±[0.5, 1)
			x = append(x, v*r)
		}
	}
	specials := [][2]float32{{0, 1}, {float32(math.Copysign(0, -1)), 1}, {-1, 0}, {-1, float32(math.Copysign(0, -1))},
		{float32(math.Inf(1)), 1}, {float32(math.Inf(-1)), 1}, {float32(math.NaN()), 1}, {70000, -70000}, {1e-30, 2e-30}, {3, 3},
		{0, 0}, {float32(math.Copysign(0, -1)), 0}, {-2, 2}, {1e-45, -1e-45}}
	for _, sp := range specials {
		for j := 0; j < qk; j++ {
			x = append(x, sp[j%2]*float32(1+j%3))
		}
		x = append(x, goldenInput(qk)...) // a plain block after each
	}
	for _, typ := range []ggml.Type{ggml.TypeQ4_0, ggml.TypeQ4_1, ggml.TypeQ5_0, ggml.TypeQ5_1, ggml.TypeQ8_0} {
		fast := make([]byte, typ.RowBytes(len(x)))
		plain := make([]byte, len(fast))
		QuantizeRow(typ, fast, x)
		restore := plainKernels()
		QuantizeRow(typ, plain, x)
		restore()
		bs := typ.RowBytes(qk)
		for b := 0; b < len(x)/qk; b++ {
			if f, p := fast[b*bs:(b+1)*bs], plain[b*bs:(b+1)*bs]; !bytes.Equal(f, p) {
				t.Fatalf("%v block %d (%v …): kernel % x, Go loop % x", typ, b, x[b*qk:b*qk+4], f, p)
			}
		}
	}
}

// TestGoldenNonFinite pins the legacy types on a row with NaN and infinite
// elements and an all-NaN block against ggml's reference quantizers (which
// skip NaNs in their magnitude, minimum and maximum searches), for the
// machine's kernels and the Go twins. The tool refuses such input before
// quantizing; the library quantizes it as ggml does.
func TestGoldenNonFinite(t *testing.T) {
	x := make([]float32, 128)
	for i := range x {
		x[i] = float32(0.01)*float32(i%13) - 0.05
	}
	x[3], x[40], x[70] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))
	for i := 96; i < 128; i++ {
		x[i] = float32(math.NaN())
	}
	for typ, h := range map[ggml.Type]string{ggml.TypeQ4_0: "dc33adfafaed673f", ggml.TypeQ4_1: "7f9bbcda844ab29f",
		ggml.TypeQ5_0: "23a61e14407f01e1", ggml.TypeQ5_1: "2bf7e123bb3b71e4", ggml.TypeQ8_0: "26bc7bd2bf72b30f"} {
		bothKernels(func(pass int) {
			out := make([]byte, typ.RowBytes(len(x)))
			QuantizeRow(typ, out, x)
			if got := fnvHex(out); got != h {
				t.Errorf("%v (pass %d, 1: Go twins): FNV %s, ggml %s", typ, pass, got, h)
			}
		})
	}
}

// TestQ3Codes checks Q3_K's second pass in assembly against q3CodesGo bit
// for bit: sub-blocks whose step is zero of either sign (the search's codes
// kept), NaN, infinite, tiny (x/dq far outside nearest_int's range) or
// ordinary, over random inputs and random search codes.
func TestQ3Codes(t *testing.T) {
	s := uint64(0xA4093822299F31D0)
	next := func() uint32 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		return uint32(s >> 32)
	}
	steps := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-30, -3e-4, 0.01, -0.02, 7}
	for blk := 0; blk < 2000; blk++ {
		x := make([]float32, QK_K)
		for i := range x {
			x[i] = float32(int32(next())) / (1 << 31) * 0.05
		}
		if blk%7 == 0 {
			x[next()%QK_K] = float32(math.Inf(1))
		}
		var dq [QK_K / 16]float32
		var L0 [QK_K]int8
		for j := range dq {
			dq[j] = steps[next()%uint32(len(steps))] * float32(1+next()%5)
		}
		for i := range L0 {
			L0[i] = int8(next() % 8)
		}
		var got, want [96]byte
		La, Lb := L0, L0
		bothKernels(func(pass int) {
			if pass == 0 {
				q3Codes(x, &dq, &La, &got)
			} else {
				q3Codes(x, &dq, &Lb, &want)
			}
		})
		if got != want {
			t.Fatalf("block %d, steps %v: kernel % x, Go twin % x", blk, dq, got, want)
		}
	}
}

// TestValidateRow: a row whose f16 scales (or F16/BF16/F32 elements) are all
// finite passes; one infinity or NaN, in any scale field of any block, is
// reported at its block (element); the largest finite f16 is not.
func TestValidateRow(t *testing.T) {
	x := goldenInput(4 * QK_K)
	for _, g := range goldenTypes {
		row := make([]byte, g.t.RowBytes(len(x)))
		QuantizeRow(g.t, row, x)
		if b := ValidateRow(g.t, row); b != -1 {
			t.Fatalf("%v: a finite row refused at block %d", g.t, b)
		}
		bs, nb := g.t.RowBytes(g.t.BlockSize()), len(x)/g.t.BlockSize()
		for _, off := range f16Fields[g.t] {
			for _, blk := range []int{0, nb / 2, nb - 1} {
				for _, bad := range []uint16{0x7c00, 0xfc00, 0x7e00, 0x7c01} {
					r := slices.Clone(row)
					binary.LittleEndian.PutUint16(r[blk*bs+off:], bad)
					if b := ValidateRow(g.t, r); b != blk {
						t.Errorf("%v: %#04x at block %d offset %d reported at %d", g.t, bad, blk, off, b)
					}
				}
				r := slices.Clone(row)
				binary.LittleEndian.PutUint16(r[blk*bs+off:], 0x7bff)
				if b := ValidateRow(g.t, r); b != -1 {
					t.Errorf("%v: 65504 at block %d offset %d refused (%d)", g.t, blk, off, b)
				}
			}
		}
	}
	for _, c := range []struct {
		t   ggml.Type
		bad []byte // one element's bytes
	}{{ggml.TypeF16, []byte{0x00, 0x7c}}, {ggml.TypeBF16, []byte{0xc0, 0xff}}, {ggml.TypeF32, []byte{0, 0, 0x80, 0x7f}}} {
		row := make([]byte, c.t.RowBytes(64))
		if b := ValidateRow(c.t, row); b != -1 {
			t.Errorf("%v: zeros refused at %d", c.t, b)
		}
		copy(row[37*len(c.bad):], c.bad)
		if b := ValidateRow(c.t, row); b != 37 {
			t.Errorf("%v: bad element 37 reported at %d", c.t, b)
		}
	}
}
