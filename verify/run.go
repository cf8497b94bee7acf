package verify

import (
	"fmt"

	"github.com/sambay-conv/sambay-conv/reference"
)

// Forward runs m over ids (one prefill) and returns logits at every position
// and the residual stream after every block, as a Golden.
func Forward(m *reference.Model, ids []int) (*Golden, error) { return forward(m, ids, nil) }

func forward(m *reference.Model, ids []int, progress func(done, total int)) (*Golden, error) {
	res, err := m.Run(m.NewState(), ids, reference.Want{AllLogits: true, Hidden: true, Progress: progress})
	if err != nil {
		return nil, err
	}
	return &Golden{IDs: ids, Vocab: m.Cfg.VocabSize, Logits: res.Logits, Hidden: res.Hidden}, nil
}

// Kinds returns the layer-table kind of every block of m.
func Kinds(m *reference.Model) []string {
	out := make([]string, m.Cfg.NLayer)
	for i := range out {
		out[i] = m.Cfg.Role(i).Kind()
	}
	return out
}

// DefaultTolerance returns the default tolerance of a numerics mode.
func DefaultTolerance(n reference.Numerics) Tolerance {
	if n == reference.BF16 {
		return TolBF16
	}
	return TolFP32
}

// AgainstGolden runs m on the golden's tokens and compares.
func AgainstGolden(m *reference.Model, g *Golden, tol Tolerance) (*Report, *Golden, error) {
	return againstGolden(m, g, tol, nil)
}

// progressFunc is a per-pass progress callback: blocks done of total, for
// the named model.
type progressFunc func(stage string, done, total int)

func (p progressFunc) pass(stage string) func(done, total int) {
	if p == nil {
		return nil
	}
	return func(done, total int) { p(stage, done, total) }
}

func againstGolden(m *reference.Model, g *Golden, tol Tolerance, progress progressFunc) (*Report, *Golden, error) {
	if g.Vocab != m.Cfg.VocabSize {
		return nil, nil, fmt.Errorf("golden has %d logits per position, the model %d", g.Vocab, m.Cfg.VocabSize)
	}
	if len(g.Hidden) > 0 && len(g.Hidden) != m.Cfg.NLayer {
		return nil, nil, fmt.Errorf("golden has %d hidden states, the model %d blocks", len(g.Hidden), m.Cfg.NLayer)
	}
	got, err := forward(m, g.IDs, progress.pass("model"))
	if err != nil {
		return nil, nil, err
	}
	r := Compare(got.Logits, g.Logits, len(g.IDs), g.Vocab, got.Hidden, g.Hidden, Kinds(m), tol)
	r.Mode = m.Opts.Numerics.String()
	r.AddPerplexity(g.IDs, got.Logits, g.Logits)
	return r, got, nil
}

// AgainstModel runs two models on the same tokens and compares a (got)
// against b (want). Their vocabularies and block counts must agree.
func AgainstModel(a, b *reference.Model, ids []int, tol Tolerance) (*Report, *Golden, error) {
	return againstModel(a, b, ids, tol, nil)
}

func againstModel(a, b *reference.Model, ids []int, tol Tolerance, progress progressFunc) (*Report, *Golden, error) {
	if a.Cfg.VocabSize != b.Cfg.VocabSize || a.Cfg.NLayer != b.Cfg.NLayer {
		return nil, nil, fmt.Errorf("models differ in shape: vocab %d vs %d, blocks %d vs %d", a.Cfg.VocabSize, b.Cfg.VocabSize, a.Cfg.NLayer, b.Cfg.NLayer)
	}
	ga, err := forward(a, ids, progress.pass("model"))
	if err != nil {
		return nil, nil, err
	}
	gb, err := forward(b, ids, progress.pass("original"))
	if err != nil {
		return nil, nil, err
	}
	r := Compare(ga.Logits, gb.Logits, len(ids), a.Cfg.VocabSize, ga.Hidden, gb.Hidden, Kinds(b), tol)
	r.Mode = a.Opts.Numerics.String()
	r.AddPerplexity(ids, ga.Logits, gb.Logits)
	return r, ga, nil
}

// Decode checks cached decoding against prefill: the prompt's first token
// alone, then one token per call; the logits of every position must equal
// those of one prefill over all ids (docs/MODEL.md §7).
func Decode(m *reference.Model, ids []int, tol Tolerance) (*Report, error) {
	full, err := m.Run(m.NewState(), ids, reference.Want{AllLogits: true})
	if err != nil {
		return nil, err
	}
	V := m.Cfg.VocabSize
	st := m.NewState()
	steps := make([]float32, 0, len(full.Logits))
	for p := range ids {
		res, err := m.Run(st, ids[p:p+1], reference.Want{})
		if err != nil {
			return nil, err
		}
		steps = append(steps, res.Logits[:V]...)
	}
	r := Compare(steps, full.Logits, len(ids), V, nil, nil, nil, tol)
	r.Mode = m.Opts.Numerics.String()
	r.Got, r.Want = "cached decoding, one token per step", "prefill"
	return r, nil
}
