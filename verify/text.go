package verify

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

// TextOptions control RunText.
type TextOptions struct {
	Model   string // canonical folder, MLX folder or GGUF file; its tokenizer encodes the text
	Against string // the original to compare with over the same tokens ("" for none)
	Text    string // the text file
	Ctx     int    // tokens per chunk (default 512)
	Chunks  int    // at most this many chunks (0: all)
	// KLDOut, when set, receives MODEL's logits over the scored chunks in
	// llama-perplexity's --kl-divergence-base format (token ids from MODEL's
	// tokenizer); Force replaces an existing file.
	KLDOut string
	Force  bool
	// Progress, when set, receives chunks done and their count.
	Progress  func(done, total int)
	Reference reference.Options
}

// A TextResult is perplexity over a text with llama-perplexity's
// semantics, and with an original the divergence from it over the same
// positions.
type TextResult struct {
	Model     string  `json:"model"`
	Text      string  `json:"text"`
	Tokens    int     `json:"tokens"` // of the whole text
	Ctx       int     `json:"ctx"`
	Chunks    int     `json:"chunks"`
	Scored    int     `json:"scored"` // predictions scored: (ctx/2 − 1) per chunk
	PPL       float64 `json:"ppl"`
	PPLStdErr float64 `json:"ppl_stderr"`

	Against           string  `json:"against,omitempty"`
	PPLOriginal       float64 `json:"ppl_original,omitempty"`
	PPLOriginalStdErr float64 `json:"ppl_original_stderr,omitempty"`
	PPLDelta          float64 `json:"ppl_delta,omitempty"`
	KLDMean           float64 `json:"kld_mean,omitempty"`
	KLDP99            float64 `json:"kld_p99,omitempty"`
	KLDMax            float64 `json:"kld_max,omitempty"`
	Top1Agreement     float64 `json:"top1_agreement,omitempty"`
}

// nllSums accumulates negative log-likelihoods for a perplexity and its
// standard error.
type nllSums struct {
	sum, sum2 float64
	n         int
}

func (s *nllSums) add(nll float64) { s.sum += nll; s.sum2 += nll * nll; s.n++ }

// ppl returns exp(mean NLL) and its standard error as llama-perplexity
// prints it: PPL · sqrt(var(NLL) / (n − 1)).
func (s *nllSums) ppl() (float64, float64) {
	if s.n == 0 {
		return 0, 0
	}
	mean := s.sum / float64(s.n)
	p := math.Exp(mean)
	v := s.sum2/float64(s.n) - mean*mean
	if v <= 0 || s.n < 2 {
		return p, 0
	}
	return p, p * math.Sqrt(v/float64(s.n-1))
}

// RunText tokenizes the text with the model's tokenizer and measures
// perplexity as llama.cpp's llama-perplexity does (docs/MODEL.md has the
// forward pass): the tokens are cut into chunks of Ctx, each chunk runs
// from an empty state, and only the second half of each chunk is scored —
// positions Ctx/2 … Ctx−2 predicting the next token — so that every scored
// prediction has at least Ctx/2 tokens of context. With Against, the
// original runs over the same chunks and the result adds its perplexity,
// KL(original ‖ model) and top-1 agreement over the scored positions.
func RunText(ctx context.Context, o TextOptions) (*TextResult, error) {
	if o.Ctx == 0 {
		o.Ctx = 512
	}
	if o.Ctx < 4 || o.Ctx > 1<<20 {
		return nil, fmt.Errorf("--ctx %d: want 4 to %d tokens", o.Ctx, 1<<20)
	}
	if o.Chunks < 0 {
		return nil, fmt.Errorf("--chunks %d: want 0 (all) or more", o.Chunks)
	}
	if o.KLDOut != "" {
		if err := atomicfile.CheckFile(o.KLDOut, o.Force); err != nil {
			return nil, err
		}
		lock, err := atomicfile.Acquire(o.KLDOut)
		if err != nil {
			return nil, err
		}
		defer lock.Release()
	}
	text, err := sidefile.ReadFile(o.Text)
	if err != nil {
		return nil, err
	}
	tk, err := model.Tokenizer(o.Model)
	if err != nil {
		return nil, err
	}
	ids := tk.Encode(string(text))
	res := &TextResult{Model: o.Model, Text: o.Text, Tokens: len(ids), Ctx: o.Ctx, Chunks: len(ids) / o.Ctx}
	if o.Chunks > 0 {
		res.Chunks = min(res.Chunks, o.Chunks)
	}
	if res.Chunks == 0 {
		return nil, fmt.Errorf("%s is %d tokens: fewer than one chunk of --ctx %d", o.Text, len(ids), o.Ctx)
	}
	m, err := model.Open(o.Model, o.Reference)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if V := m.Cfg.VocabSize; tk.VocabSize() > V {
		return nil, fmt.Errorf("%s: its tokenizer has %d ids, the model's vocabulary %d", o.Model, tk.VocabSize(), V)
	}
	var orig *model.Loaded
	if o.Against != "" {
		res.Against = o.Against
		if orig, err = model.Open(o.Against, o.Reference); err != nil {
			return nil, err
		}
		defer orig.Close()
		if orig.Cfg.VocabSize != m.Cfg.VocabSize {
			return nil, fmt.Errorf("%s has a vocabulary of %d, %s of %d", o.Against, orig.Cfg.VocabSize, o.Model, m.Cfg.VocabSize)
		}
	}
	V := m.Cfg.VocabSize
	var got, want nllSums
	var kls []float64
	agree := 0
	for c := 0; c < res.Chunks; c++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk := ids[c*o.Ctx : (c+1)*o.Ctx]
		a, err := m.Model.Run(m.Model.NewState(), chunk, reference.Want{AllLogits: true})
		if err != nil {
			return nil, err
		}
		var b *reference.Result
		if orig != nil {
			if b, err = orig.Model.Run(orig.Model.NewState(), chunk, reference.Want{AllLogits: true}); err != nil {
				return nil, err
			}
		}
		for p := o.Ctx / 2; p <= o.Ctx-2; p++ {
			la := a.Logits[p*V : (p+1)*V]
			got.add(-logSoftmax(la)[chunk[p+1]])
			if b != nil {
				lb := b.Logits[p*V : (p+1)*V]
				want.add(-logSoftmax(lb)[chunk[p+1]])
				kls = append(kls, KL(lb, la))
				if argmax(la) == argmax(lb) {
					agree++
				}
			}
		}
		if o.Progress != nil {
			o.Progress(c+1, res.Chunks)
		}
	}
	if o.KLDOut != "" {
		if err := WriteKLD(o.KLDOut, m.Model, ids[:res.Chunks*o.Ctx], o.Ctx); err != nil {
			return nil, err
		}
	}
	res.Scored = got.n
	res.PPL, res.PPLStdErr = got.ppl()
	if orig != nil {
		res.PPLOriginal, res.PPLOriginalStdErr = want.ppl()
		res.PPLDelta = res.PPL - res.PPLOriginal
		var s float64
		for _, k := range kls {
			s += k
			res.KLDMax = math.Max(res.KLDMax, k)
		}
		res.KLDMean, res.KLDP99 = s/float64(len(kls)), percentile(kls, 0.99)
		res.Top1Agreement = float64(agree) / float64(len(kls))
	}
	return res, nil
}

// WriteText prints the result for a terminal.
func (r *TextResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "perplexity of %s over %s: %d tokens, %d chunks of %d, %d predictions scored (the second half of each chunk)\n",
		r.Model, r.Text, r.Tokens, r.Chunks, r.Ctx, r.Scored)
	fmt.Fprintf(w, "PPL = %.4f ± %.4f\n", r.PPL, r.PPLStdErr)
	if r.Against != "" {
		fmt.Fprintf(w, "original %s: PPL = %.4f ± %.4f; ΔPPL %+.4f (%+.2f%%)\n", r.Against, r.PPLOriginal, r.PPLOriginalStdErr, r.PPLDelta, 100*r.PPLDelta/r.PPLOriginal)
		fmt.Fprintf(w, "KL(original ‖ model): mean %.4g, p99 %.4g, max %.4g; top-1 agreement %.2f%%\n", r.KLDMean, r.KLDP99, r.KLDMax, 100*r.Top1Agreement)
	}
}
