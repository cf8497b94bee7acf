package reference_test

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

// TestScratchReuse: runs that reuse the buffers of earlier runs compute
// the same bits as the first run, and a result stays as it was returned
// after later runs (its logits are never a reused buffer).
func TestScratchReuse(t *testing.T) {
	m, err := model.Open(filepath.Join("..", "testdata", "phi4flash-tiny", "hf"), reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a := []int{5, 42, 7, 99, 3, 17, 64, 88}
	b := []int{1, 8, 33}
	c := []int{12, 60, 2, 90, 14, 71, 9, 55} // a's length: reuses a's buffers
	first, err := m.Run(m.NewState(), a, reference.Want{AllLogits: true})
	if err != nil {
		t.Fatal(err)
	}
	kept := slices.Clone(first.Logits)
	for _, ids := range [][]int{c, b, a, c, b, a} {
		res, err := m.Run(m.NewState(), ids, reference.Want{AllLogits: true})
		if err != nil {
			t.Fatal(err)
		}
		if &ids[0] == &a[0] {
			for i, v := range res.Logits {
				if math.Float32bits(v) != math.Float32bits(kept[i]) {
					t.Fatalf("a run after others: logit %d = %v, first run %v", i, v, kept[i])
				}
			}
		}
	}
	for i, v := range first.Logits {
		if math.Float32bits(v) != math.Float32bits(kept[i]) {
			t.Fatalf("the first result changed under later runs: logit %d = %v, was %v", i, v, kept[i])
		}
	}
}
