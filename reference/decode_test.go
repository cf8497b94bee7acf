package reference_test

import (
	"path/filepath"
	"testing"

	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

// TestDecodeMatchesPrefill feeds a prompt in one call and then one token per
// call, and requires the logits of every position to equal those of a
// single prefill over the whole sequence. The prompts are shorter than the
// window and the sequence runs past it, so the SWA ring must hold exactly
// the last W tokens at every step (the official cache rolls one step early
// there and drifts by whole logits).
func TestDecodeMatchesPrefill(t *testing.T) {
	seq := []int{5, 42, 7, 99, 3, 17, 64, 88, 1, 8, 33, 77, 12, 60, 2, 90, 14, 71, 9, 55}
	for _, name := range []string{"phi4flash-tiny", "sambay-tiny"} {
		for _, mode := range []reference.Numerics{reference.FP32, reference.BF16} {
			m, err := model.Open(filepath.Join("..", "testdata", name, "hf"), reference.Options{Numerics: mode})
			if err != nil {
				t.Fatal(err)
			}
			full, err := m.Run(m.NewState(), seq, reference.Want{AllLogits: true})
			if err != nil {
				t.Fatal(err)
			}
			V := m.Cfg.VocabSize
			for _, prompt := range []int{1, 2, m.Cfg.Window - 1, m.Cfg.Window, m.Cfg.Window + 1} {
				st := m.NewState()
				res, err := m.Run(st, seq[:prompt], reference.Want{})
				if err != nil {
					t.Fatal(err)
				}
				check := func(pos int, got []float32) {
					want := full.Logits[pos*V : (pos+1)*V]
					scale := maxAbs(want)
					if d := maxDiff(got, want); d > 1e-5*scale {
						t.Errorf("%s %v prompt %d: position %d differs by %.3g (max |logit| %.3g)", name, mode, prompt, pos, d, scale)
					}
				}
				check(prompt-1, res.Logits)
				for p := prompt; p < len(seq); p++ {
					res, err = m.Run(st, seq[p:p+1], reference.Want{})
					if err != nil {
						t.Fatal(err)
					}
					check(p, res.Logits)
				}
				if st.Pos != len(seq) {
					t.Errorf("state at %d after %d tokens", st.Pos, len(seq))
				}
			}
			m.Close()
		}
	}
}

// TestStateBF16 rounds the Mamba state between calls: decoding then drifts
// from prefill slightly (by about one bf16 rounding), never wildly, and the
// option changes nothing for a single prefill call's logits.
func TestStateBF16(t *testing.T) {
	seq := []int{5, 42, 7, 99, 3, 17, 64, 88, 1, 8, 33, 77}
	dir := filepath.Join("..", "testdata", "phi4flash-tiny", "hf")
	plain, _ := model.Open(dir, reference.Options{Numerics: reference.BF16})
	defer plain.Close()
	rounded, _ := model.Open(dir, reference.Options{Numerics: reference.BF16, StateBF16: true})
	defer rounded.Close()
	a, _ := plain.Run(plain.NewState(), seq, reference.Want{AllLogits: true})
	b, _ := rounded.Run(rounded.NewState(), seq, reference.Want{AllLogits: true})
	if d := maxDiff(a.Logits, b.Logits); d != 0 {
		t.Errorf("one prefill call differs by %v with StateBF16", d)
	}
	st := rounded.NewState()
	V := rounded.Cfg.VocabSize
	var worst float64
	for p := range seq {
		res, _ := rounded.Run(st, seq[p:p+1], reference.Want{})
		worst = max(worst, maxDiff(res.Logits, a.Logits[p*V:(p+1)*V])/maxAbs(a.Logits[p*V:(p+1)*V]))
	}
	if worst == 0 || worst > 0.05 {
		t.Errorf("decoding with bf16 state differs from prefill by %.3g of max |logit| (want small but non-zero)", worst)
	}
}
