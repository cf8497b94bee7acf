package reference

import (
	"math"
	"testing"
)

func TestCausalConvTaps(t *testing.T) {
	// One channel, K = 4, taps 1, 10, 100, 1000 (tap 3 on the current input),
	// zero history, inputs 1, 2, 3: each output is readable digit by digit.
	w, b := []float32{1, 10, 100, 1000}, []float32{0.5}
	win := []float32{0, 0, 0, 1, 2, 3}
	got := causalConv(win, 3, 1, 4, w, b)
	for i, want := range []float32{1000.5, 2100.5, 3210.5} {
		if got[i] != want {
			t.Errorf("row %d: %v, want %v", i, got[i], want)
		}
	}
	// With history 7, 8, 9 the first row sees all three.
	got = causalConv([]float32{7, 8, 9, 1}, 1, 1, 4, w, b)
	if got[0] != 7+80+900+1000+0.5 {
		t.Errorf("with history: %v", got[0])
	}
}

func TestKeyRangeWindowEdges(t *testing.T) {
	// W = 4: the query at position 5 sees positions 2..5 (four keys, its own included).
	if a, b := keyRange(RoleSWA, 5, 0, 4); a != 2 || b != 5 {
		t.Errorf("swa p=5: [%d, %d], want [2, 5]", a, b)
	}
	// Early positions see everything so far.
	if a, b := keyRange(RoleSWA, 1, 0, 4); a != 0 || b != 1 {
		t.Errorf("swa p=1: [%d, %d]", a, b)
	}
	// Decoding: keys start at the ring's first position (here 3 = p−(W−1)).
	if a, b := keyRange(RoleSWA, 6, 3, 4); a != 0 || b != 3 {
		t.Errorf("swa decode p=6 base=3: [%d, %d], want [0, 3]", a, b)
	}
	if a, b := keyRange(RoleFullKV, 9, 0, 4); a != 0 || b != 9 {
		t.Errorf("full p=9: [%d, %d]", a, b)
	}
	// W = 1 sees only itself.
	if a, b := keyRange(RoleSWA, 7, 0, 1); a != 7 || b != 7 {
		t.Errorf("W=1: [%d, %d]", a, b)
	}
}

func TestDiffAttnHeadStriping(t *testing.T) {
	// H = 8, G = 4 (P = 2): pairs 0,1 → KV heads (0,1); pairs 2,3 → (2,3).
	want := [][2]int{{0, 1}, {0, 1}, {2, 3}, {2, 3}}
	for j, w := range want {
		a, b := diffKV(j, 2)
		if a != w[0] || b != w[1] {
			t.Errorf("pair %d: KV heads (%d, %d), want %v", j, a, b, w)
		}
	}
	// Plain GQA would send query head 2 (pair 1's even head) to KV head ⌊2/2⌋ = 1,
	// but under DA it uses KV head 0: the striping is not plain GQA.
	if a, _ := diffKV(1, 2); a == 2/2 {
		t.Error("diffKV reproduces plain GQA")
	}
	// H = 40, G = 20 (Phi-4-mini-flash, P = 2): pair 19 uses KV heads 18, 19.
	if a, b := diffKV(19, 2); a != 18 || b != 19 {
		t.Errorf("phi4 pair 19: (%d, %d)", a, b)
	}
}

func TestLambdaFull(t *testing.T) {
	// λq1·λk1 = 1·0.5·2 = 1 → exp 2.718…; λq2·λk2 = 0 → 1; λinit(1) = 0.355509.
	ly := &layer{lq1: []float32{1, 1}, lk1: []float32{0.5, 0.5}, lq2: []float32{0, 0}, lk2: []float32{1, 1}}
	r := &run{m: &Model{}}
	got := r.lambdaFull(ly, 0.8-0.6*math.Exp(-0.3))
	want := float32(math.E-1) + float32(0.8-0.6*math.Exp(-0.3))
	if math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("fp32 λ = %v, want %v", got, want)
	}
	r.bf16 = true
	got = r.lambdaFull(ly, 0.8-0.6*math.Exp(-0.3))
	// bf16: R(e)=2.71875, R(R(e)−1)=1.71875, +0.355509 → R(2.074259) = 2.078125.
	if got != 2.078125 {
		t.Errorf("bf16 λ = %v, want 2.078125", got)
	}
}
