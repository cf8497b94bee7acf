package pipeline

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

func (r *Result) writeReport(path string) error {
	var b strings.Builder
	switch filepath.Ext(path) {
	case ".json":
		j, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		b.Write(j)
		b.WriteByte('\n')
	case ".md":
		r.markdown(&b)
	case ".html":
		r.html(&b)
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}

func (r *Result) markdown(w io.Writer) {
	fmt.Fprintf(w, "# sambay-conv pipeline report\n\n")
	if r.Import != nil {
		m := r.Import.Manifest
		fmt.Fprintf(w, "Imported `%s` (%s, %s layout) → `%s`: %d tensors, %d parameters, %d bytes.\n\n",
			r.Import.Source.Path, r.Import.Source.Format, r.Import.Source.Layout, r.Canonical, len(m.Tensors), m.Params, m.TotalSize)
	}
	if r.Golden != nil {
		fmt.Fprintf(w, "## Import vs golden: %s\n\nmax abs err %.4g (%.3g of max |logit|), top-1 %.2f%%, KL mean %.3g.\n\n",
			map[bool]string{true: "PASS", false: "FAIL"}[r.Golden.Pass], r.Golden.MaxAbsErr, r.Golden.RelErr, 100*r.Golden.Top1Agreement, r.Golden.KLDMean)
	}
	fmt.Fprintf(w, "## Quantized outputs vs the imported model (fp32 reference forward pass)\n\n")
	fmt.Fprintf(w, "| target | bits/weight | tensor bytes | KL mean | KL p99 | KL max | top-1 | PPL (Δ) | logits NMSE |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range r.Targets {
		p := t.Parity
		fmt.Fprintf(w, "| %s | %.3f | %d | %.4g | %.4g | %.4g | %.2f%% | %.3f (%+.3f) | %.3g |\n",
			t.Target, t.BitsPerWeight, t.TensorBytes, p.KLDMean, p.KLDP99, p.KLDMax, 100*p.Top1Agreement, p.PPLGot, p.PPLDelta, p.NMSE)
	}
	for _, t := range r.Targets {
		fmt.Fprintf(w, "\n### %s: per tensor\n\n| tensor | type | bits/weight | NMSE |\n|---|---|---:|---:|\n", t.Target)
		for _, q := range t.Tensors {
			bpw := "—"
			if q.BitsPerWeight > 0 {
				bpw = fmt.Sprintf("%.3f", q.BitsPerWeight)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.3g |\n", q.Name, q.Type, bpw, q.NMSE)
		}
	}
}

func (r *Result) html(w io.Writer) {
	var md strings.Builder
	r.markdown(&md)
	fmt.Fprint(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>sambay-conv pipeline report</title>"+
		"<style>body{font-family:sans-serif;margin:2em;max-width:70em}pre{white-space:pre-wrap}</style></head><body>\n")
	fmt.Fprintln(w, "<h1>sambay-conv pipeline report</h1>")
	fmt.Fprintln(w, "<h2>KL divergence against bits per weight</h2>")
	fmt.Fprintln(w, r.svg())
	fmt.Fprintf(w, "<pre>%s</pre>\n</body></html>\n", html.EscapeString(md.String()))
}

// svg plots mean KL divergence (log scale) against bits per weight.
func (r *Result) svg() string {
	const W, H, pad = 640.0, 300.0, 50.0
	if len(r.Targets) == 0 {
		return ""
	}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, t := range r.Targets {
		xlo, xhi = math.Min(xlo, t.BitsPerWeight), math.Max(xhi, t.BitsPerWeight)
		k := math.Log10(math.Max(t.Parity.KLDMean, 1e-12))
		ylo, yhi = math.Min(ylo, k), math.Max(yhi, k)
	}
	xlo, xhi = math.Floor(xlo)-0.5, math.Ceil(xhi)+0.5
	ylo, yhi = math.Floor(ylo), math.Ceil(yhi)
	if yhi == ylo {
		yhi++
	}
	x := func(v float64) float64 { return pad + (v-xlo)/(xhi-xlo)*(W-2*pad) }
	y := func(v float64) float64 { return H - pad - (math.Log10(math.Max(v, 1e-12))-ylo)/(yhi-ylo)*(H-2*pad) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-size="11"><rect width="100%%" height="100%%" fill="white"/>`, W, H)
	for e := ylo; e <= yhi; e++ {
		yy := y(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="4" y="%.1f">1e%d</text>`, pad, W-pad, yy, yy, yy+4, int(e))
	}
	for v := math.Ceil(xlo); v <= xhi; v++ {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%.0f</text>`, x(v), H-pad+16, v)
	}
	for _, t := range r.Targets {
		cx, cy := x(t.BitsPerWeight), y(t.Parity.KLDMean)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="5" fill="#36c"/><text x="%.1f" y="%.1f">%s</text>`, cx, cy, cx+8, cy-6, html.EscapeString(t.Target))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">bits per weight</text><text x="12" y="20">mean KL divergence (nats)</text></svg>`, W/2, H-8)
	return b.String()
}
