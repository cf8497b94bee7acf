package reference

import (
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
)

// freeBytes is what the model's scratch holds between runs.
func (s *scratch) freeBytes() int {
	n := 0
	for _, l := range s.free {
		for _, b := range l {
			n += 4 * len(b)
		}
	}
	return n
}

// TestScratchPerLayer: a layer's buffers serve the next layer, so what a
// run holds at once, and what the model keeps after it, does not grow with
// the number of layers (without release a 12-layer run kept 2.7 times
// what a 4-layer run did).
func TestScratchPerLayer(t *testing.T) {
	kept := map[int]int{}
	for _, L := range []int{4, 12} {
		c := Config{NLayer: L, NEmbd: 64, NHead: 4, NKVHead: 2, HeadDim: 16, Intermediate: 256, VocabSize: 50,
			Window: 8, DState: 4, DConv: 4, Expand: 2, DtRank: 4, Norm: LayerNorm, NormEps: 1e-5, DiffAttn: true,
			QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, MaxPosition: 64, LogitScale: 1, AttnScale: 0.25}
		ts := randomTensors(c)
		m, err := Load(c, func(n string) (formats.Tensor, bool) { t, ok := ts[n]; return t, ok }, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ids := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
		if _, err := m.Run(m.NewState(), ids, Want{AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		kept[L] = m.scratch.freeBytes()
	}
	if kept[4] == 0 || float64(kept[12]) > 1.25*float64(kept[4]) {
		t.Errorf("scratch kept after a run: %d bytes with 4 layers, %d with 12", kept[4], kept[12])
	}
}
