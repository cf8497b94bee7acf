package quant

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/x448/float16"
)

// TestErrSums checks AddRow against sums taken exactly (math/big) and the
// AVX2 kernel against the plain loop bit for bit, at row lengths around the
// kernel's 16-element step.
func TestErrSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 48, 100, 4096, 4099} {
		x, q := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64()) * 0.02
			q[i] = x[i] + float32(rng.NormFloat64())*0.001
		}
		var fast ErrSums
		fast.AddRow(x, q)
		restore := plainKernels()
		var plain ErrSums
		plain.AddRow(x, q)
		restore()
		if fast != plain {
			t.Errorf("n=%d: kernel %+v, plain loop %+v", n, fast, plain)
		}
		se, sx := new(big.Float).SetPrec(256), new(big.Float).SetPrec(256)
		for i := range x {
			d := new(big.Float).SetPrec(256).Sub(big.NewFloat(float64(q[i])), big.NewFloat(float64(x[i])))
			se.Add(se, d.Mul(d, d))
			v := big.NewFloat(float64(x[i]))
			sx.Add(sx, v.Mul(v, v))
		}
		for _, c := range []struct {
			name string
			got  float64
			want *big.Float
		}{{"SSE", fast.SSE, se}, {"SSX", fast.SSX, sx}} {
			w, _ := c.want.Float64()
			if math.Abs(c.got-w) > 1e-13*w {
				t.Errorf("n=%d: %s = %.17g, exact %.17g", n, c.name, c.got, w)
			}
		}
	}
}

// TestNonFinite checks the first NaN or ±Inf is found wherever it sits,
// before, inside and after the kernel's 32-element blocks.
func TestNonFinite(t *testing.T) {
	for _, n := range []int{1, 31, 32, 33, 64, 100, 4096} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i) - 3e38*float32(i&1) // large but finite
		}
		for _, plain := range []bool{false, true} {
			restore := func() {}
			if plain {
				restore = plainKernels()
			}
			if got := NonFinite(x); got != -1 {
				t.Errorf("n=%d plain=%v: finite row: NonFinite = %d", n, plain, got)
			}
			for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
				for _, at := range []int{0, n / 2, n - 1} {
					keep := x[at]
					x[at] = bad
					if n > 2 && at != n-1 {
						x[n-1] = float32(math.NaN()) // a later one must not be reported
					}
					if got := NonFinite(x); got != at {
						t.Errorf("n=%d plain=%v: %v at %d: NonFinite = %d", n, plain, bad, at, got)
					}
					x[at], x[n-1] = keep, float32(n-1)-3e38*float32((n-1)&1)
				}
			}
			restore()
		}
	}
}

// TestFP16 checks fp16 (ggml's conversion) against x448/float16's IEEE
// round-to-nearest-even on every float32 whose low 9 mantissa bits are a
// fixed pattern (all exponents and signs, ties and subnormals included),
// and on every pattern of the low 13 bits around each half-precision
// rounding boundary region, NaN aside.
func TestFP16(t *testing.T) {
	check := func(u uint32) {
		f := math.Float32frombits(u)
		if f != f {
			if got := fp16(f); got&0x7fff != 0x7e00 {
				t.Fatalf("NaN %#08x: %#04x, want sign|0x7e00", u, got)
			}
			return
		}
		if got, want := fp16(f), uint16(float16.Fromfloat32(f)); got != want {
			t.Fatalf("%#08x (%g): %#04x, want %#04x", u, f, got, want)
		}
	}
	for hi := uint32(0); hi < 1<<23; hi++ {
		check(hi<<9 | 0x0ff)
	}
	for e := uint32(100); e < 145; e++ {
		for low := uint32(0); low < 1<<14; low++ {
			check(e<<23 | 0x2a<<14 | low)
			check(1<<31 | e<<23 | 0x15<<14 | low)
		}
	}
}

// TestErrStatsNil: a nil *ErrStats (statistics skipped) takes sums and
// reports 0; a live one reports what it was given.
func TestErrStatsNil(t *testing.T) {
	var none *ErrStats
	none.Add(ErrSums{SSE: 1, SSX: 4})
	if got := none.NMSE(); got != 0 {
		t.Errorf("nil ErrStats: NMSE %v", got)
	}
	var some ErrStats
	some.Add(ErrSums{SSE: 1, SSX: 4})
	some.Add(ErrSums{SSE: 1, SSX: 4})
	if got := some.NMSE(); got != 0.25 {
		t.Errorf("ErrStats: NMSE %v, want 0.25", got)
	}
}
