// Package generate decodes text from a model: the prompt is fed in one
// prefill, then one token at a time through the cached decode path (the
// Mamba and sliding-window states carried, O(1) per token for those
// layers), each token picked greedily or sampled (top-k, top-p, min-p,
// temperature, seeded), the text streamed as whole UTF-8 characters, until
// an end-of-sequence token, a stop string or the token limit.
package generate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sambay-conv/sambay-conv/chat"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

// Options control Run.
type Options struct {
	Model  string
	Prompt string // text; special tokens in it are tokens
	// Messages, when set, are a conversation rendered through the model's
	// chat template (with the generation prompt) into the prompt instead.
	Messages  []chat.Message
	MaxTokens int // tokens to generate at most (default 128)
	// Temp 0 is greedy decoding; otherwise the logits are divided by Temp
	// and a token is drawn from what TopK (0: all), TopP (1: all) and MinP
	// (0: all) keep, in that order, with a generator seeded by Seed.
	Temp       float64
	TopK       int
	TopP, MinP float64
	Seed       uint64
	Stop       []string // stop strings: the text ends before the first one
	EOS        []string // end-of-sequence tokens (default <|endoftext|> and <|end|>, those the tokenizer has)
	// Never lists ids that are never generated: Run sets it to the ids
	// the tokenizer has no token for (a vocabulary padded past the
	// tokenizer's, as Phi-4-mini-flash's 200,064 rows are).
	Never     []bool
	Reference reference.Options
}

// Result describes a generation.
type Result struct {
	Model          string  `json:"model"`
	Prompt         string  `json:"prompt"` // the text fed (the rendered conversation with Messages)
	PromptTokens   int     `json:"prompt_tokens"`
	Tokens         []int   `json:"tokens"` // generated ids (the EOS token included when one ended it)
	Text           string  `json:"text"`
	StopReason     string  `json:"stop_reason"` // eos, stop, length
	PrefillSeconds float64 `json:"prefill_seconds"`
	DecodeSeconds  float64 `json:"decode_seconds"`
	PromptPerSec   float64 `json:"prompt_tokens_per_second"`
	DecodePerSec   float64 `json:"decode_tokens_per_second"`
}

// Check refuses options no generation can use.
func (o *Options) Check() error {
	switch {
	case o.MaxTokens < 0 || o.MaxTokens > 1<<20:
		return fmt.Errorf("-n %d: want 1 to %d tokens", o.MaxTokens, 1<<20)
	case !(o.Temp >= 0) || math.IsInf(o.Temp, 0):
		return fmt.Errorf("--temp %v: want a finite number ≥ 0", o.Temp)
	case o.TopK < 0:
		return fmt.Errorf("--top-k %d: want 0 (all) or more", o.TopK)
	case !(o.TopP > 0 && o.TopP <= 1):
		return fmt.Errorf("--top-p %v: want 0 < p ≤ 1", o.TopP)
	case !(o.MinP >= 0 && o.MinP < 1):
		return fmt.Errorf("--min-p %v: want 0 ≤ p < 1", o.MinP)
	}
	for _, s := range o.Stop {
		if s == "" {
			return errors.New("--stop: an empty stop string would stop at once")
		}
	}
	return nil
}

// Run generates from the prompt and writes the text to out as it is
// decoded.
func Run(ctx context.Context, o Options, out io.Writer) (*Result, error) {
	if o.MaxTokens == 0 {
		o.MaxTokens = 128
	}
	if o.TopP == 0 {
		o.TopP = 1
	}
	if err := o.Check(); err != nil {
		return nil, err
	}
	tk, err := model.Tokenizer(o.Model)
	if err != nil {
		return nil, err
	}
	if o.Messages != nil {
		tmpl, err := model.ChatTemplate(o.Model)
		if err != nil {
			return nil, err
		}
		if o.Prompt, err = tmpl.Render(o.Messages, true); err != nil {
			return nil, err
		}
	}
	m, err := model.Open(o.Model, o.Reference)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	o.Never = make([]bool, m.Cfg.VocabSize)
	for id := range o.Never {
		o.Never[id] = !tk.Has(id)
	}
	prompt := tk.Encode(o.Prompt)
	if len(prompt) == 0 {
		return nil, errors.New("the prompt is empty")
	}
	eos := map[int]bool{}
	names := o.EOS
	if names == nil {
		names = []string{"<|endoftext|>", "<|end|>"}
	}
	for _, s := range names {
		if id, ok := tk.SpecialID(s); ok {
			eos[id] = true
		}
	}
	res := &Result{Model: o.Model, Prompt: o.Prompt, PromptTokens: len(prompt), StopReason: "length"}
	var bytesOut []byte // decoded bytes not yet written (an incomplete character)
	var text strings.Builder
	var werr error
	prefill, decode, err := Decode(ctx, m.Model, prompt, o, func(id int) bool {
		res.Tokens = append(res.Tokens, id)
		if eos[id] {
			res.StopReason = "eos"
			return true
		}
		b, err := tk.Decode([]int{id})
		if err != nil {
			werr = err
			return true
		}
		bytesOut = append(bytesOut, b...)
		// Write whole characters; keep an incomplete one for the next token.
		n := len(bytesOut)
		if i := lastStart(bytesOut); !utf8.FullRune(bytesOut[i:]) {
			n = i
		}
		chunk := string(bytesOut[:n])
		bytesOut = append(bytesOut[:0], bytesOut[n:]...)
		before := text.Len()
		text.WriteString(chunk)
		if i, s := firstStop(text.String(), o.Stop, before); i >= 0 {
			full := text.String()
			fmt.Fprint(out, full[before:i])
			text.Reset()
			text.WriteString(full[:i])
			res.StopReason = "stop: " + s
			return true
		}
		fmt.Fprint(out, chunk)
		return false
	})
	if err == nil {
		err = werr
	}
	if len(bytesOut) > 0 && !strings.HasPrefix(res.StopReason, "stop") {
		text.Write(bytesOut)
		fmt.Fprint(out, string(bytesOut))
	}
	res.Text = text.String()
	res.PrefillSeconds, res.DecodeSeconds = prefill.Seconds(), decode.Seconds()
	if res.PrefillSeconds > 0 {
		res.PromptPerSec = float64(len(prompt)) / res.PrefillSeconds
	}
	if res.DecodeSeconds > 0 {
		res.DecodePerSec = float64(len(res.Tokens)) / res.DecodeSeconds
	}
	return res, err
}

// Decode feeds prompt in one prefill, then generates up to o.MaxTokens ids
// through the cached decode path, passing each to emit, which returns true
// to stop. It returns the time of the prefill and of the decoding.
func Decode(ctx context.Context, m *reference.Model, prompt []int, o Options, emit func(id int) bool) (prefill, decode time.Duration, err error) {
	V := m.Cfg.VocabSize
	st := m.NewState()
	start := time.Now()
	r, err := m.Run(st, prompt, reference.Want{})
	if err != nil {
		return 0, 0, err
	}
	prefill = time.Since(start)
	logits := r.Logits[len(r.Logits)-V:]
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	start = time.Now()
	for n := 0; n < o.MaxTokens; n++ {
		if err := ctx.Err(); err != nil {
			return prefill, time.Since(start), err
		}
		id := pick(logits, o, rng)
		if emit(id) || n+1 == o.MaxTokens {
			break
		}
		if r, err = m.Run(st, []int{id}, reference.Want{}); err != nil {
			return prefill, time.Since(start), err
		}
		logits = r.Logits[len(r.Logits)-V:]
	}
	return prefill, time.Since(start), nil
}

// lastStart returns where the last UTF-8 sequence of b starts.
func lastStart(b []byte) int {
	i := len(b) - 1
	for i > 0 && len(b)-i < utf8.UTFMax && !utf8.RuneStart(b[i]) {
		i--
	}
	return max(i, 0)
}

// firstStop returns the index in text of the first stop string that ends
// after from, or −1.
func firstStop(text string, stops []string, from int) (int, string) {
	best, which := -1, ""
	for _, s := range stops {
		lo := max(0, from-len(s)+1)
		if i := strings.Index(text[lo:], s); i >= 0 && (best < 0 || lo+i < best) {
			best, which = lo+i, s
		}
	}
	return best, which
}

// pick chooses the next token: the argmax (lowest id on ties) when Temp is
// 0, else a draw after top-k, top-p and min-p.
func pick(logits []float32, o Options, rng *rand.Rand) int {
	never := func(id int) bool { return id < len(o.Never) && o.Never[id] }
	if o.Temp == 0 {
		best := -1
		for i, v := range logits {
			if !never(i) && (best < 0 || v > logits[best]) {
				best = i
			}
		}
		return max(best, 0)
	}
	type cand struct {
		id int
		p  float64
	}
	cs := make([]cand, 0, len(logits))
	for i, v := range logits {
		if !never(i) {
			cs = append(cs, cand{i, float64(v) / o.Temp})
		}
	}
	if len(cs) == 0 {
		return 0
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].p > cs[j].p || cs[i].p == cs[j].p && cs[i].id < cs[j].id })
	if o.TopK > 0 && o.TopK < len(cs) {
		cs = cs[:o.TopK]
	}
	mx := cs[0].p
	var sum float64
	for i := range cs {
		cs[i].p = math.Exp(cs[i].p - mx)
		sum += cs[i].p
	}
	for i := range cs {
		cs[i].p /= sum
	}
	if o.TopP < 1 {
		acc := 0.0
		for i := range cs {
			acc += cs[i].p
			if acc >= o.TopP {
				cs = cs[:i+1]
				break
			}
		}
	}
	if o.MinP > 0 {
		keep := 0
		for keep < len(cs) && cs[keep].p >= o.MinP*cs[0].p {
			keep++
		}
		cs = cs[:max(keep, 1)]
	}
	sum = 0
	for _, c := range cs {
		sum += c.p
	}
	x := rng.Float64() * sum
	for _, c := range cs {
		if x -= c.p; x < 0 {
			return c.id
		}
	}
	return cs[len(cs)-1].id
}
