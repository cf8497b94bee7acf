package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sambay-conv/sambay-conv/report"
)

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// tolText describes a threshold for a summary line.
func tolText(t float64) string {
	if t == 0 {
		return "no threshold"
	}
	return fmt.Sprintf("tolerance %.3g", t)
}

// WriteText writes the summary and layer table for a terminal.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s  %s vs %s (%s, %d tokens)\n", r.Verdict, r.Got, r.Want, r.Mode, r.Tokens)
	kld := ""
	if r.MaxKLD > 0 {
		kld = fmt.Sprintf(" (--max-kld %.3g)", r.MaxKLD)
	}
	fmt.Fprintf(w, "logits: max abs err %.4g (%.3g of max |logit| %.4g; %s), NMSE %.3g, top-1 agreement %.2f%%, KL mean %.3g%s p99 %.3g max %.3g\n",
		r.MaxAbsErr, r.RelErr, r.MaxAbsLogit, tolText(r.Tolerance.Logits), r.NMSE, 100*r.Top1Agreement, r.KLDMean, kld, r.KLDP99, r.KLDMax)
	if r.PPLWant > 0 {
		fmt.Fprintf(w, "perplexity over the tokens: %.4f (reference %.4f, Δ %+.4f)\n", r.PPLGot, r.PPLWant, r.PPLDelta)
	}
	if len(r.Layers) > 0 {
		fmt.Fprintf(w, "%5s  %-7s  %12s  %10s\n", "block", "kind", "max abs err", "rel err")
		for _, l := range r.Layers {
			mark := ""
			if l.Verdict == VerdictFail {
				mark = "  ← out of tolerance"
			}
			fmt.Fprintf(w, "%5d  %-7s  %12.4g  %10.3g%s\n", l.Index, l.Kind, l.MaxAbsErr, l.RelErr, mark)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	for _, n := range r.Skipped {
		fmt.Fprintln(w, "SKIPPED", n)
	}
}

// Doc returns the report as a report.Doc: summary, logits table, the
// relative error per block plotted against the tolerance, and the block table.
func (r *Report) Doc() *report.Doc {
	d := &report.Doc{Title: "Parity report"}
	add := func(b ...report.Block) { d.Blocks = append(d.Blocks, b...) }
	add(report.Heading{Level: 1, Text: "Parity report: " + r.Verdict, Class: strings.ToLower(r.Verdict)},
		report.List{fmt.Sprintf("got: `%s`", r.Got), fmt.Sprintf("want: `%s`", r.Want), fmt.Sprintf("numerics: %s, %d tokens, vocabulary %d", r.Mode, r.Tokens, r.Vocab)})
	if r.Generated != "" {
		add(report.Para(fmt.Sprintf("sambay-conv %s, generated %s.", r.ToolVersion, r.Generated)))
	}
	rows := [][]string{
		{"max abs err", fmt.Sprintf("%.4g", r.MaxAbsErr)},
		{fmt.Sprintf("relative to max \\|logit\\| (%.4g)", r.MaxAbsLogit), fmt.Sprintf("%.3g (%s)", r.RelErr, tolText(r.Tolerance.Logits))},
		{"NMSE", fmt.Sprintf("%.3g", r.NMSE)},
		{"top-1 agreement", fmt.Sprintf("%.2f%%", 100*r.Top1Agreement)},
		{"KL divergence mean / p99 / max (nats)", fmt.Sprintf("%.3g / %.3g / %.3g", r.KLDMean, r.KLDP99, r.KLDMax)},
	}
	if r.PPLWant > 0 {
		rows = append(rows, []string{"perplexity (reference, Δ)", fmt.Sprintf("%.4f (%.4f, %+.4f)", r.PPLGot, r.PPLWant, r.PPLDelta)})
	}
	add(report.Table{Head: []string{"logits", "value"}, Rows: rows})
	var notes report.List
	for _, n := range r.Notes {
		notes = append(notes, "note: "+n)
	}
	for _, n := range r.Skipped {
		notes = append(notes, "SKIPPED: "+n)
	}
	if len(notes) > 0 {
		add(notes)
	}
	if len(r.Layers) == 0 {
		add(report.Heading{Level: 2, Text: "Legend"}, Legend())
		return d
	}
	add(report.Heading{Level: 2, Text: "Error per block"})
	if r.FirstBadLayer >= 0 {
		add(report.Para(fmt.Sprintf("First block out of tolerance: **%d** (%s).", r.FirstBadLayer, r.Layers[r.FirstBadLayer].Kind)))
	}
	tol := r.Tolerance.Hidden
	plot := report.Plot{XLabel: "block", YLabel: "relative error", Connect: true, RefY: &tol, RefLabel: "tolerance", MinDecades: 1}
	t := report.Table{Head: []string{"block", "kind", "max abs err", "rel err", ""}, Right: []bool{true, false, true, true}}
	for _, l := range r.Layers {
		plot.Points = append(plot.Points, report.Point{X: float64(l.Index), Y: l.RelErr, Tick: fmt.Sprint(l.Index), Bad: l.Verdict == VerdictFail,
			Title: fmt.Sprintf("block %d (%s): %.3g", l.Index, l.Kind, l.RelErr)})
		t.Rows = append(t.Rows, []string{fmt.Sprint(l.Index), l.Kind, fmt.Sprintf("%.4g", l.MaxAbsErr), fmt.Sprintf("%.3g", l.RelErr), l.Verdict})
	}
	add(plot.SVG(), t)
	add(report.Heading{Level: 2, Text: "Legend"}, Legend())
	return d
}

// WriteFile writes the report to path in the format its extension names
// (.md, .html, .json), replacing the file only when complete.
func (r *Report) WriteFile(path string) error { return report.WriteFile(path, r.Doc(), r) }
