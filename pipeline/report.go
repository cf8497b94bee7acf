package pipeline

import (
	"fmt"
	"strings"

	"github.com/sambay-conv/sambay-conv/report"
	"github.com/sambay-conv/sambay-conv/verify"
)

func (r *Result) writeReport(path string) error { return report.WriteFile(path, r.doc(), r) }

// doc builds the pipeline report: the import, its check against the
// golden, KL divergence against bits per weight, and per target a table of
// every tensor's type, bits per weight and NMSE.
func (r *Result) doc() *report.Doc {
	d := &report.Doc{Title: "sambay-conv pipeline report"}
	add := func(b ...report.Block) { d.Blocks = append(d.Blocks, b...) }
	add(report.Heading{Level: 1, Text: "sambay-conv pipeline report"})
	add(report.Para(fmt.Sprintf("sambay-conv %s, generated %s.", r.ToolVersion, r.Generated)))
	if r.Import != nil {
		m := r.Import.Manifest
		src := "`" + r.Source + "`"
		if r.Source != r.Import.Source.Path {
			src = r.Source // a label, not a path
		}
		add(report.Para(fmt.Sprintf("Imported %s (%s, %s layout) → `%s`: %d tensors, %d parameters, %d bytes.",
			src, r.Import.Source.Format, r.Import.Source.Layout, r.Canonical, len(m.Tensors), m.Params, m.TotalSize)))
	}
	if r.GoldenSkipped != "" {
		add(report.Heading{Level: 2, Text: "Import vs golden: " + verify.VerdictSkipped}, report.Para(r.GoldenSkipped+"."))
	}
	if r.Golden != nil {
		v := r.Golden.Verdict
		add(report.Heading{Level: 2, Text: "Import vs golden: " + v, Class: strings.ToLower(v)},
			report.Para(fmt.Sprintf("max abs err %.4g (%.3g of max |logit|), top-1 %.2f%%, KL mean %.3g.", r.Golden.MaxAbsErr, r.Golden.RelErr, 100*r.Golden.Top1Agreement, r.Golden.KLDMean)))
	}
	if r.TextSkipped != "" {
		add(report.Heading{Level: 2, Text: "Perplexity on text: " + verify.VerdictSkipped}, report.Para(r.TextSkipped+"."))
	}
	if x := r.OnText; x != nil {
		add(report.Heading{Level: 2, Text: "Perplexity on text"},
			report.Para(fmt.Sprintf("`%s`: %d tokens with the model's tokenizer, %d chunks of %d, %d predictions scored (the second half of each chunk, as llama-perplexity scores). "+
				"Lower perplexity is better; ΔPPL, KL and top-1 compare each output with the import over the same predictions.", x.Text, x.Tokens, x.Chunks, x.Ctx, x.Scored)))
		tt := report.Table{Head: []string{"model", "PPL", "± stderr", "ΔPPL", "ΔPPL %", "KL mean", "KL p99", "top-1"}, Right: []bool{false, true, true, true, true, true, true, true}}
		tt.Rows = append(tt.Rows, []string{"import (" + r.Canonical + ")", fmt.Sprintf("%.4f", x.PPL), fmt.Sprintf("%.4f", x.PPLStdErr), "—", "—", "—", "—", "—"})
		for _, tr := range r.Targets {
			if y := tr.OnText; y != nil {
				tt.Rows = append(tt.Rows, []string{tr.Target, fmt.Sprintf("%.4f", y.PPL), fmt.Sprintf("%.4f", y.PPLStdErr), fmt.Sprintf("%+.4f", y.PPLDelta),
					fmt.Sprintf("%+.2f%%", 100*y.PPLDelta/y.PPLOriginal), fmt.Sprintf("%.4g", y.KLDMean), fmt.Sprintf("%.4g", y.KLDP99), fmt.Sprintf("%.2f%%", 100*y.Top1Agreement)})
			}
		}
		add(tt, report.Para("PPL is exp(mean negative log-likelihood) of the text's next tokens: the number of equally likely tokens the model "+
			"hesitates between, on average (1 is perfect; the vocabulary size is a uniform guess). ± is its standard error over the scored predictions. "+
			"ΔPPL is the output's PPL minus the import's on the same predictions; KL is the divergence of the output's next-token distribution "+
			"from the import's, in nats (0: the same distribution); top-1 is how often both pick the same most likely token."))
	}
	if r.Sample != nil {
		add(report.Heading{Level: 2, Text: "Samples"},
			report.Para(fmt.Sprintf("Each model continues the same prompt greedily (the most likely token at each step, at most %d tokens; "+
				"`sambay-conv generate MODEL --prompt TEXT -n N` does the same). A quantization that hurt the model shows here as text that "+
				"leaves the import's sooner.", len(r.Sample.Tokens))),
			report.Heading{Level: 3, Text: "import"}, report.Code(r.Sample.Prompt+r.Sample.Text))
		for _, tr := range r.Targets {
			if tr.Sample == nil {
				continue
			}
			same := 0
			for same < len(tr.Sample.Tokens) && same < len(r.Sample.Tokens) && tr.Sample.Tokens[same] == r.Sample.Tokens[same] {
				same++
			}
			note := fmt.Sprintf("the import's first %d of %d tokens", same, len(r.Sample.Tokens))
			if same == len(r.Sample.Tokens) && len(tr.Sample.Tokens) == same {
				note = "the same tokens as the import"
			}
			add(report.Heading{Level: 3, Text: tr.Target + " (" + note + ")"}, report.Code(tr.Sample.Prompt+tr.Sample.Text))
		}
	}
	add(report.Heading{Level: 2, Text: "Quantized outputs vs the imported model (fp32 reference forward pass)"})
	plot := report.Plot{XLabel: "bits per weight", YLabel: "mean KL divergence (nats)", XTicks: true}
	t := report.Table{Head: []string{"target", "verdict", "bits/weight", "tensor bytes", "KL mean", "KL p99", "KL max", "top-1", "PPL (Δ)", "logits NMSE"},
		Right: []bool{false, false, true, true, true, true, true, true, true, true}}
	for _, tr := range r.Targets {
		p := tr.Parity
		plot.Points = append(plot.Points, report.Point{X: tr.BitsPerWeight, Y: p.KLDMean, Label: tr.Target,
			Title: fmt.Sprintf("%s: %.3f bits/weight, KL mean %.4g", tr.Target, tr.BitsPerWeight, p.KLDMean)})
		t.Rows = append(t.Rows, []string{tr.Target, p.Verdict, fmt.Sprintf("%.3f", tr.BitsPerWeight), fmt.Sprint(tr.TensorBytes), fmt.Sprintf("%.4g", p.KLDMean),
			fmt.Sprintf("%.4g", p.KLDP99), fmt.Sprintf("%.4g", p.KLDMax), fmt.Sprintf("%.2f%%", 100*p.Top1Agreement), fmt.Sprintf("%.3f (%+.3f)", p.PPLGot, p.PPLDelta), fmt.Sprintf("%.3g", p.NMSE)})
	}
	if len(r.Targets) > 0 {
		add(plot.SVG())
	}
	add(t)
	for _, tr := range r.Targets {
		tt := report.Table{Head: []string{"tensor", "type", "bits/weight", "NMSE"}, Right: []bool{false, false, true, true}}
		for _, q := range tr.Tensors {
			bpw := "—"
			if q.BitsPerWeight > 0 {
				bpw = fmt.Sprintf("%.3f", q.BitsPerWeight)
			}
			tt.Rows = append(tt.Rows, []string{q.Name, q.Type, bpw, fmt.Sprintf("%.3g", q.NMSE)})
		}
		add(report.Heading{Level: 3, Text: tr.Target + ": per tensor"}, tt)
	}
	var outs report.List
	for _, tr := range r.Targets {
		outs = append(outs, fmt.Sprintf("%s: `%s`", tr.Target, tr.Path))
	}
	if len(outs) > 0 {
		add(report.Heading{Level: 2, Text: "Outputs and what runs them"}, outs,
			report.Para("GGUF files with `general.architecture = sambay` and MLX folders of this layout need a runtime that implements SambaY; "+
				"llama.cpp, Ollama and mlx-lm do not yet. Today this tool's `verify` runs them (the Go reference forward pass reads both formats), "+
				"which is how the figures above were measured."))
	}
	add(report.Heading{Level: 2, Text: "Legend"}, verify.Legend())
	return d
}
