package verify

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrParity reports a comparison out of tolerance.
var ErrParity = errors.New("out of tolerance")

// Tolerance bounds a comparison. Errors are relative to the reference's
// largest magnitude: logits to max |logit|, a block to max |hidden| of that
// block. A zero field is no threshold: that part is measured and reported,
// not judged.
type Tolerance struct {
	Logits float64 `json:"logits,omitempty"`
	Hidden float64 `json:"hidden,omitempty"`
}

// Verdicts. Every check has one: PASS or FAIL against a threshold, REPORT
// when it was measured without one, SKIPPED (with the reason in the
// report's Skipped list) when it could not run.
const (
	VerdictPass    = "PASS"
	VerdictFail    = "FAIL"
	VerdictReport  = "REPORT"
	VerdictSkipped = "SKIPPED"
)

// Default tolerances, measured on the testdata models against the PyTorch
// reference (README "verify"): fp32 differs by at most 8e-7 of max |logit|,
// bf16 (one rounding flipped somewhere) by at most 4e-3.
var (
	TolFP32 = Tolerance{Logits: 1e-5, Hidden: 1e-5}
	TolBF16 = Tolerance{Logits: 2e-2, Hidden: 2e-2}
)

// LayerResult is one block's comparison.
type LayerResult struct {
	Index     int     `json:"index"`
	Kind      string  `json:"kind"`
	MaxAbsErr float64 `json:"max_abs_err"`
	RelErr    float64 `json:"rel_err"`
	Verdict   string  `json:"verdict"` // PASS or FAIL against Tolerance.Hidden, else REPORT
}

// Report is the outcome of a comparison.
type Report struct {
	// Verdict is FAIL when any judged check failed, PASS when at least one
	// was judged and none failed, REPORT when nothing had a threshold.
	Verdict       string  `json:"verdict"`
	Got           string  `json:"got"`
	Want          string  `json:"want"`
	Mode          string  `json:"mode"`
	Tokens        int     `json:"tokens"`
	Vocab         int     `json:"vocab"`
	MaxAbsErr     float64 `json:"max_abs_err"`
	MaxAbsLogit   float64 `json:"max_abs_logit"`
	RelErr        float64 `json:"rel_err"`
	NMSE          float64 `json:"nmse"`
	Top1Agreement float64 `json:"top1_agreement"`
	KLDMean       float64 `json:"kld_mean"`
	KLDP99        float64 `json:"kld_p99"`
	KLDMax        float64 `json:"kld_max"`
	// Perplexity over the tokens (each position predicting the next), of the
	// model checked and of the reference, when token ids are known.
	PPLGot        float64       `json:"ppl,omitempty"`
	PPLWant       float64       `json:"ppl_reference,omitempty"`
	PPLDelta      float64       `json:"ppl_delta,omitempty"`
	Tolerance     Tolerance     `json:"tolerance"`
	MaxKLD        float64       `json:"max_kld,omitempty"` // the mean-KL threshold, when one was given
	Layers        []LayerResult `json:"layers"`
	FirstBadLayer int           `json:"first_bad_layer"` // −1 when no block failed
	Notes         []string      `json:"notes,omitempty"`
	Skipped       []string      `json:"skipped,omitempty"` // checks that could not run, and why
	ToolVersion   string        `json:"tool_version,omitempty"`
	Generated     string        `json:"generated,omitempty"` // UTC date and time of the run
}

// judged records one judged check's outcome in the verdict.
func (r *Report) judged(ok bool) {
	switch {
	case !ok:
		r.Verdict = VerdictFail
	case r.Verdict != VerdictFail:
		r.Verdict = VerdictPass
	}
}

// JudgeKLD judges the mean KL divergence against max (> 0).
func (r *Report) JudgeKLD(max float64) {
	r.MaxKLD = max
	ok := r.KLDMean <= max
	if !ok {
		r.Notes = append(r.Notes, fmt.Sprintf("mean KL divergence %.4g exceeds --max-kld %.4g", r.KLDMean, max))
	}
	r.judged(ok)
}

// Err returns nil when the report passes, else an error wrapping ErrParity
// that names the first block out of tolerance.
func (r *Report) Err() error {
	if r.Verdict != VerdictFail {
		return nil
	}
	where := ""
	logitsOK := r.Tolerance.Logits == 0 || r.RelErr <= r.Tolerance.Logits
	if len(r.Notes) > 0 && logitsOK && r.FirstBadLayer < 0 {
		return fmt.Errorf("%w: %s", ErrParity, r.Notes[len(r.Notes)-1])
	}
	if r.FirstBadLayer >= 0 {
		l := r.Layers[r.FirstBadLayer]
		where = fmt.Sprintf("; first block out of tolerance: %d (%s), relative error %.3g > %.3g", l.Index, l.Kind, l.RelErr, r.Tolerance.Hidden)
	}
	return fmt.Errorf("%w: logits max abs err %.4g (%.3g of max |logit| %.4g, tolerance %.3g)%s",
		ErrParity, r.MaxAbsErr, r.RelErr, r.MaxAbsLogit, r.Tolerance.Logits, where)
}

// Compare compares logits got against want ([T, V] each) and, when both are
// given, the per-block hidden states; kinds names each block.
func Compare(got, want []float32, T, V int, gotHidden, wantHidden [][]float32, kinds []string, tol Tolerance) *Report {
	r := &Report{Tokens: T, Vocab: V, Tolerance: tol, FirstBadLayer: -1, Verdict: VerdictReport}
	var se, sw float64
	top1 := 0
	klds := make([]float64, 0, T)
	for t := 0; t < T; t++ {
		g, w := got[t*V:(t+1)*V], want[t*V:(t+1)*V]
		for j := range w {
			d := math.Abs(float64(g[j]) - float64(w[j]))
			r.MaxAbsErr = math.Max(r.MaxAbsErr, d)
			r.MaxAbsLogit = math.Max(r.MaxAbsLogit, math.Abs(float64(w[j])))
			se += d * d
			sw += float64(w[j]) * float64(w[j])
		}
		if argmax(g) == argmax(w) {
			top1++
		}
		k := KL(w, g)
		r.KLDMean += k / float64(T)
		r.KLDMax = math.Max(r.KLDMax, k)
		klds = append(klds, k)
	}
	r.KLDP99 = percentile(klds, 0.99)
	if sw > 0 {
		r.NMSE = se / sw
	}
	if r.MaxAbsLogit > 0 {
		r.RelErr = r.MaxAbsErr / r.MaxAbsLogit
	}
	r.Top1Agreement = float64(top1) / float64(T)
	if tol.Logits > 0 {
		r.judged(r.RelErr <= tol.Logits)
	}
	if len(wantHidden) == 0 || len(gotHidden) != len(wantHidden) {
		if tol.Hidden > 0 {
			r.Skipped = append(r.Skipped, "per-block comparison: the reference has no hidden states (a golden with only logits, or a decoding check)")
		}
	} else {
		for i := range wantHidden {
			l := LayerResult{Index: i}
			if i < len(kinds) {
				l.Kind = kinds[i]
			}
			var mx float64
			for j, w := range wantHidden[i] {
				l.MaxAbsErr = math.Max(l.MaxAbsErr, math.Abs(float64(gotHidden[i][j])-float64(w)))
				mx = math.Max(mx, math.Abs(float64(w)))
			}
			if mx > 0 {
				l.RelErr = l.MaxAbsErr / mx
			}
			l.Verdict = VerdictReport
			if tol.Hidden > 0 {
				ok := l.RelErr <= tol.Hidden
				l.Verdict = map[bool]string{true: VerdictPass, false: VerdictFail}[ok]
				if !ok && r.FirstBadLayer < 0 {
					r.FirstBadLayer = i
				}
				r.judged(ok)
			}
			r.Layers = append(r.Layers, l)
		}
	}
	return r
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// logSoftmax returns log softmax(v) in float64.
func logSoftmax(v []float32) []float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, float64(x))
	}
	var s float64
	for _, x := range v {
		s += math.Exp(float64(x) - mx)
	}
	ls := math.Log(s) + mx
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x) - ls
	}
	return out
}

// KL returns KL(softmax(p) ‖ softmax(q)) in nats for one position's logits.
func KL(p, q []float32) float64 {
	lp, lq := logSoftmax(p), logSoftmax(q)
	var k float64
	for i := range lp {
		if pi := math.Exp(lp[i]); pi > 0 {
			k += pi * (lp[i] - lq[i])
		}
	}
	return math.Max(k, 0)
}

// percentile returns the p-quantile of v (nearest rank).
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, i))]
}

// Perplexity returns exp(mean NLL) of logits [T, V] predicting ids[t+1] at
// position t (T−1 predictions), or 0 when T < 2.
func Perplexity(logits []float32, ids []int, V int) float64 {
	if len(ids) < 2 {
		return 0
	}
	var nll float64
	for t := 0; t+1 < len(ids); t++ {
		ls := logSoftmax(logits[t*V : (t+1)*V])
		nll -= ls[ids[t+1]]
	}
	return math.Exp(nll / float64(len(ids)-1))
}

// AddPerplexity fills the perplexity fields from both runs' logits.
func (r *Report) AddPerplexity(ids []int, got, want []float32) {
	r.PPLGot = Perplexity(got, ids, r.Vocab)
	r.PPLWant = Perplexity(want, ids, r.Vocab)
	r.PPLDelta = r.PPLGot - r.PPLWant
}
