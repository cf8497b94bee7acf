package verify

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
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

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// WriteText writes the summary and layer table for a terminal.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s  %s vs %s (%s, %d tokens)\n", verdict(r.Pass), r.Got, r.Want, r.Mode, r.Tokens)
	fmt.Fprintf(w, "logits: max abs err %.4g (%.3g of max |logit| %.4g; tolerance %.3g), NMSE %.3g, top-1 agreement %.2f%%, KL mean %.3g p99 %.3g max %.3g\n",
		r.MaxAbsErr, r.RelErr, r.MaxAbsLogit, r.Tolerance.Logits, r.NMSE, 100*r.Top1Agreement, r.KLDMean, r.KLDP99, r.KLDMax)
	if r.PPLWant > 0 {
		fmt.Fprintf(w, "perplexity over the tokens: %.4f (reference %.4f, Δ %+.4f)\n", r.PPLGot, r.PPLWant, r.PPLDelta)
	}
	if len(r.Layers) > 0 {
		fmt.Fprintf(w, "%5s  %-7s  %12s  %10s\n", "block", "kind", "max abs err", "rel err")
		for _, l := range r.Layers {
			mark := ""
			if !l.Pass {
				mark = "  ← out of tolerance"
			}
			fmt.Fprintf(w, "%5d  %-7s  %12.4g  %10.3g%s\n", l.Index, l.Kind, l.MaxAbsErr, l.RelErr, mark)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// WriteMarkdown writes the report as Markdown.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# Parity report: %s\n\n", verdict(r.Pass))
	fmt.Fprintf(w, "- got: `%s`\n- want: `%s`\n- numerics: %s, %d tokens, vocabulary %d\n\n", r.Got, r.Want, r.Mode, r.Tokens, r.Vocab)
	fmt.Fprintf(w, "| logits | value |\n|---|---|\n")
	fmt.Fprintf(w, "| max abs err | %.4g |\n| relative to max \\|logit\\| (%.4g) | %.3g (tolerance %.3g) |\n", r.MaxAbsErr, r.MaxAbsLogit, r.RelErr, r.Tolerance.Logits)
	fmt.Fprintf(w, "| NMSE | %.3g |\n| top-1 agreement | %.2f%% |\n| KL divergence mean / p99 / max (nats) | %.3g / %.3g / %.3g |\n", r.NMSE, 100*r.Top1Agreement, r.KLDMean, r.KLDP99, r.KLDMax)
	if r.PPLWant > 0 {
		fmt.Fprintf(w, "| perplexity (reference, Δ) | %.4f (%.4f, %+.4f) |\n", r.PPLGot, r.PPLWant, r.PPLDelta)
	}
	fmt.Fprintln(w)
	if len(r.Layers) > 0 {
		if r.FirstBadLayer >= 0 {
			fmt.Fprintf(w, "First block out of tolerance: **%d** (%s).\n\n", r.FirstBadLayer, r.Layers[r.FirstBadLayer].Kind)
		}
		fmt.Fprintf(w, "| block | kind | max abs err | rel err | |\n|---:|---|---:|---:|---|\n")
		for _, l := range r.Layers {
			fmt.Fprintf(w, "| %d | %s | %.4g | %.3g | %s |\n", l.Index, l.Kind, l.MaxAbsErr, l.RelErr, verdict(l.Pass))
		}
	}
}

// WriteHTML writes a self-contained HTML report with an SVG plot of the
// relative error per block (log scale) and the tolerance line.
func (r *Report) WriteHTML(w io.Writer) {
	var md strings.Builder
	r.WriteMarkdown(&md)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Parity report</title>"+
		"<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"+
		".fail{color:#b00}.pass{color:#070}</style></head><body>\n")
	cls := "pass"
	if !r.Pass {
		cls = "fail"
	}
	fmt.Fprintf(w, "<h1 class=%q>Parity report: %s</h1>\n", cls, verdict(r.Pass))
	fmt.Fprintf(w, "<p>got <code>%s</code><br>want <code>%s</code><br>numerics %s, %d tokens, vocabulary %d</p>\n",
		html.EscapeString(r.Got), html.EscapeString(r.Want), r.Mode, r.Tokens, r.Vocab)
	fmt.Fprintf(w, "<table><tr><th>max abs err</th><td>%.4g</td></tr><tr><th>relative (tolerance %.3g)</th><td>%.3g</td></tr>"+
		"<tr><th>NMSE</th><td>%.3g</td></tr><tr><th>top-1 agreement</th><td>%.2f%%</td></tr><tr><th>KL mean / max</th><td>%.3g / %.3g</td></tr></table>\n",
		r.MaxAbsErr, r.Tolerance.Logits, r.RelErr, r.NMSE, 100*r.Top1Agreement, r.KLDMean, r.KLDMax)
	if len(r.Layers) > 0 {
		fmt.Fprintln(w, "<h2>Error per block</h2>")
		fmt.Fprintln(w, r.svg())
		fmt.Fprintln(w, "<table><tr><th>block</th><th>kind</th><th>max abs err</th><th>rel err</th><th></th></tr>")
		for _, l := range r.Layers {
			c := "pass"
			if !l.Pass {
				c = "fail"
			}
			fmt.Fprintf(w, "<tr><td>%d</td><td>%s</td><td>%.4g</td><td>%.3g</td><td class=%q>%s</td></tr>\n", l.Index, l.Kind, l.MaxAbsErr, l.RelErr, c, verdict(l.Pass))
		}
		fmt.Fprintln(w, "</table>")
	}
	fmt.Fprintln(w, "</body></html>")
}

// svg plots log10(relative error) per block with the tolerance as a dashed line.
func (r *Report) svg() string {
	const W, H, pad = 640.0, 260.0, 40.0
	lo, hi := math.Log10(r.Tolerance.Hidden)-1, math.Log10(r.Tolerance.Hidden)+1
	for _, l := range r.Layers {
		if l.RelErr > 0 {
			v := math.Log10(l.RelErr)
			lo, hi = math.Min(lo, math.Floor(v)), math.Max(hi, math.Ceil(v))
		}
	}
	x := func(i int) float64 {
		if len(r.Layers) < 2 {
			return pad + (W-2*pad)/2
		}
		return pad + float64(i)*(W-2*pad)/float64(len(r.Layers)-1)
	}
	y := func(v float64) float64 {
		if v <= 0 {
			return H - pad
		}
		return H - pad - (math.Log10(v)-lo)/(hi-lo)*(H-2*pad)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-size="10">`, W, H, W, H)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="white"/>`, W, H)
	for e := lo; e <= hi; e++ {
		yy := y(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="2" y="%.1f">1e%d</text>`, pad, W-pad, yy, yy, yy+3, int(e))
	}
	ty := y(r.Tolerance.Hidden)
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#b00" stroke-dasharray="4 3"/><text x="%.0f" y="%.1f" fill="#b00">tolerance</text>`, pad, W-pad, ty, ty, W-pad-45, ty-3)
	var pts []string
	for i, l := range r.Layers {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(l.RelErr)))
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#36c"/>`, strings.Join(pts, " "))
	for i, l := range r.Layers {
		c := "#36c"
		if !l.Pass {
			c = "#b00"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>block %d (%s): %.3g</title></circle>`, x(i), y(l.RelErr), c, l.Index, l.Kind, l.RelErr)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`, x(i), H-pad+14, l.Index)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">block</text></svg>`, W/2, H-6)
	return b.String()
}

// WriteFile writes the report to path in the format its extension names
// (.md, .html, .json), replacing the file only when complete.
func (r *Report) WriteFile(path string) error {
	var b strings.Builder
	switch strings.ToLower(filepath.Ext(path)) {
	case ".md":
		r.WriteMarkdown(&b)
	case ".html", ".htm":
		r.WriteHTML(&b)
	case ".json":
		if err := r.WriteJSON(&b); err != nil {
			return err
		}
	default:
		return fmt.Errorf("report %s: unknown format (want .md, .html or .json)", path)
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}
