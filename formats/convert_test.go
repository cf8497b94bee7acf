package formats

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"
)

// slowBF16 rounds x to bfloat16 by comparing the two neighbouring bf16
// values in float64: an independent statement of round-to-nearest-even.
func slowBF16(x float32) uint16 {
	if x != x {
		return 0x7fc0
	}
	u := math.Float32bits(x)
	lo := uint16(u >> 16) // truncation: the neighbour towards zero
	hi := lo + 1
	if u&0xffff == 0 {
		return lo
	}
	vlo := float64(BF16ToFloat32(lo))
	vhi := float64(math.Float32frombits(uint32(hi) << 16)) // may be ±Inf: correct overflow result
	dx := math.Abs(float64(x) - vlo)
	dh := math.Abs(vhi - float64(x))
	if math.IsInf(vhi, 0) {
		// Overflow: the distance to the next representable "value" past the
		// largest finite bf16 is one ulp of bf16 at that exponent.
		dh = math.Abs(math.Ldexp(1, 128) - math.Abs(float64(x)))
	}
	switch {
	case dx < dh:
		return lo
	case dh < dx:
		return hi
	case lo&1 == 0:
		return lo
	}
	return hi
}

func TestFloat32ToBF16AllBF16Values(t *testing.T) {
	// Every bf16 value widens and narrows back to itself (NaNs to 0x7fc0).
	for h := 0; h < 1<<16; h++ {
		f := BF16ToFloat32(uint16(h))
		got := Float32ToBF16(f)
		want := uint16(h)
		if f != f {
			want = 0x7fc0
		}
		if got != want {
			t.Fatalf("bf16 %#04x: widened %v narrowed to %#04x", h, f, got)
		}
	}
}

func TestFloat32ToBF16MatchesSlowRounding(t *testing.T) {
	step := uint64(1)
	if testing.Short() {
		step = 9973 // a prime stride still visits every low-half pattern class
	}
	h := sha256.New()
	var buf [2]byte
	for u := uint64(0); u < 1<<32; u += step {
		x := math.Float32frombits(uint32(u))
		got, want := Float32ToBF16(x), slowBF16(x)
		if got != want {
			t.Fatalf("float32 %#08x (%g): got bf16 %#04x, want %#04x", u, x, got, want)
		}
		if step == 1 {
			binary.LittleEndian.PutUint16(buf[:], got)
			h.Write(buf[:])
		}
	}
	if step == 1 {
		t.Logf("sha256 of all 2^32 roundings: %x", h.Sum(nil))
	}
}

func TestBF16Specials(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3f80},
		{float32(math.Inf(1)), 0x7f80}, {float32(math.Inf(-1)), 0xff80},
		{float32(math.NaN()), 0x7fc0}, {math.Float32frombits(0xff800001), 0x7fc0},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // max float32 rounds to +Inf
		{math.Float32frombits(0x00000001), 0x0000}, // smallest subnormal rounds to 0
	} {
		if got := Float32ToBF16(c.in); got != c.want {
			t.Errorf("Float32ToBF16(%#08x) = %#04x, want %#04x", math.Float32bits(c.in), got, c.want)
		}
	}
}

func TestF16AllValues(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToFloat32(uint16(h))
		if f != f {
			continue
		}
		if got := Float32ToF16(f); got != uint16(h) {
			t.Fatalf("f16 %#04x: widened %v narrowed to %#04x", h, f, got)
		}
	}
	// 65520 is the halfway point above the largest half (65504): ties to even → +Inf.
	if got := Float32ToF16(65520); got != 0x7c00 {
		t.Errorf("Float32ToF16(65520) = %#04x, want +Inf 0x7c00", got)
	}
}

func bulkInput(n int) []float32 {
	x := make([]float32, n)
	s := uint32(12345)
	for i := range x {
		s = s*1664525 + 1013904223
		x[i] = math.Float32frombits(s&0x3fffffff | 0x3c000000) // positive normals around 1
		if i%3 == 0 {
			x[i] = -x[i]
		}
	}
	return x
}

func TestBulkConvertersMatchScalar(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 255, 256, 257, 1000} {
		x := bulkInput(n)
		for _, dt := range []DType{BF16, F16, F32, F64} {
			t.Run(fmt.Sprintf("n=%d/%v", n, dt), func(t *testing.T) {
				b := make([]byte, n*dt.Size()+3)
				for i := range b {
					b[i] = 0xa5 // guard bytes after the output must survive
				}
				EncodeFloat32(b, x, dt)
				for i := n * dt.Size(); i < len(b); i++ {
					if b[i] != 0xa5 {
						t.Fatalf("guard byte %d overwritten", i)
					}
				}
				back := make([]float32, n)
				DecodeFloat32(back, b, dt)
				for i := range x {
					var want float32
					switch dt {
					case BF16:
						want = RoundBF16(x[i])
					case F16:
						want = F16ToFloat32(Float32ToF16(x[i]))
					default:
						want = x[i]
					}
					if back[i] != want {
						t.Fatalf("element %d: %v → %v, want %v", i, x[i], back[i], want)
					}
				}
				// ConvertFloat from F32 agrees with EncodeFloat32.
				f32 := make([]byte, 4*n)
				EncodeFloat32(f32, x, F32)
				c := make([]byte, n*dt.Size())
				ConvertFloat(c, dt, f32, F32, n)
				for i := range c {
					if c[i] != b[i] {
						t.Fatalf("ConvertFloat byte %d = %#x, EncodeFloat32 gave %#x", i, c[i], b[i])
					}
				}
			})
		}
	}
}

func TestFirstNonFinite(t *testing.T) {
	x := []float32{1, 2, float32(math.NaN()), float32(math.Inf(1))}
	for _, dt := range []DType{BF16, F16, F32, F64} {
		b := make([]byte, len(x)*dt.Size())
		EncodeFloat32(b, x, dt)
		if i := FirstNonFinite(b, dt, len(x)); i != 2 {
			t.Errorf("%v: first non-finite = %d, want 2", dt, i)
		}
		if i := FirstNonFinite(b, dt, 2); i != -1 {
			t.Errorf("%v: finite prefix reported %d", dt, i)
		}
	}
	// 65536 is finite in f32 but overflows f16 to +Inf: it must be caught there.
	b := make([]byte, 2)
	EncodeFloat32(b, []float32{70000}, F16)
	if FirstNonFinite(b, F16, 1) != 0 {
		t.Errorf("f16 overflow to Inf not reported")
	}
}

// slowFirstNonFinite is the plain twin of FirstNonFinite.
func slowFirstNonFinite(b []byte, dt DType, n int) int {
	x := make([]float32, n)
	DecodeFloat32(x, b, dt)
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i
		}
	}
	return -1
}

func TestFirstNonFiniteMatchesSlow(t *testing.T) {
	r := uint32(7)
	for _, dt := range []DType{BF16, F16, F32} {
		for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100} {
			for pos := -1; pos < n; pos++ {
				b := make([]byte, n*dt.Size())
				for i := 0; i < len(b); i++ {
					r = r*1103515245 + 12345
					b[i] = byte(r >> 16)
				}
				// Clear every exponent's top bit so only pos is non-finite.
				for i := 0; i < n; i++ {
					b[(i+1)*dt.Size()-1] &= 0xbf
				}
				if pos >= 0 {
					b[(pos+1)*dt.Size()-1] |= 0x7f
					b[(pos+1)*dt.Size()-2] |= 0xff
				}
				if got, want := FirstNonFinite(b, dt, n), slowFirstNonFinite(b, dt, n); got != want || want != pos {
					t.Fatalf("%v n=%d pos=%d: got %d, slow %d", dt, n, pos, got, want)
				}
			}
		}
	}
}

func BenchmarkFirstNonFinite(b *testing.B) {
	const n = 1 << 16
	src := make([]byte, 2*n)
	EncodeFloat32(src, bulkInput(n), BF16)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if FirstNonFinite(src, BF16, n) != -1 {
			b.Fatal("finite input reported")
		}
	}
}

func BenchmarkConvert(b *testing.B) {
	const n = 1 << 16
	x := bulkInput(n)
	f32 := make([]byte, 4*n)
	EncodeFloat32(f32, x, F32)
	for _, c := range []struct{ from, to DType }{{F32, BF16}, {BF16, F32}, {F32, F16}, {F16, F32}} {
		src := make([]byte, n*c.from.Size())
		ConvertFloat(src, c.from, f32, F32, n)
		dst := make([]byte, n*c.to.Size())
		b.Run(fmt.Sprintf("%v_to_%v", c.from, c.to), func(b *testing.B) {
			// Baseline: copying the source bytes, timed moments earlier in this process.
			cp := make([]byte, len(src))
			copyNs := nsPerOp(100*time.Millisecond, func() { copy(cp, src) })
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				ConvertFloat(dst, c.to, src, c.from, n)
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(ns/n, "ns/element")
			b.ReportMetric(ns/copyNs, "x-copy-time")
		})
	}
}

// nsPerOp times f with time.Now for at least d (testing.Benchmark would
// deadlock inside a benchmark).
func nsPerOp(d time.Duration, f func()) float64 {
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		f()
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
