package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A Point is one marker of a Plot.
type Point struct {
	X, Y  float64
	Label string // drawn beside the marker ("" for none)
	Tick  string // drawn under the x axis at X ("" for none)
	Title string // hover text
	Bad   bool   // drawn in red
	// Series groups points: with Connect, each series is its own line in
	// its own colour, named in a legend ("" is one unnamed series).
	Series string
}

// A Plot draws points with y on a log10 scale. Non-finite and non-positive
// values are drawn at the bottom edge (y) or left edge (x); the scale spans
// at most maxDecades decades, so no input makes the drawing unbounded.
type Plot struct {
	Width, Height float64
	XLabel        string
	YLabel        string
	Points        []Point
	Connect       bool     // join the points with a line
	XTicks        bool     // label whole numbers on the x axis
	RefY          *float64 // a dashed reference line (e.g. a tolerance)
	RefLabel      string
	MinDecades    float64 // at least this many decades around RefY (0: none)
}

const maxDecades = 24

// palette colours the series of a plot, in turn; maxLegend bounds the legend.
var palette = []string{"#36c", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#999"}

const maxLegend = 20

func finitePos(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
func finite(v float64) bool    { return !math.IsInf(v, 0) && !math.IsNaN(v) }

// SVG draws the plot.
func (p Plot) SVG() SVG {
	W, H := p.Width, p.Height
	if W == 0 {
		W = 640
	}
	if H == 0 {
		H = 280
	}
	const pad = 50.0
	ylo, yhi := math.Inf(1), math.Inf(-1)
	xlo, xhi := math.Inf(1), math.Inf(-1)
	for _, pt := range p.Points {
		if finitePos(pt.Y) {
			v := math.Log10(pt.Y)
			ylo, yhi = math.Min(ylo, math.Floor(v)), math.Max(yhi, math.Ceil(v))
		}
		if finite(pt.X) {
			xlo, xhi = math.Min(xlo, pt.X), math.Max(xhi, pt.X)
		}
	}
	if p.RefY != nil && finitePos(*p.RefY) {
		r := math.Log10(*p.RefY)
		ylo, yhi = math.Min(ylo, math.Floor(r-p.MinDecades)), math.Max(yhi, math.Ceil(r+p.MinDecades))
	}
	if math.IsInf(ylo, 1) { // nothing to place
		ylo, yhi = -1, 0
	}
	if yhi <= ylo {
		yhi = ylo + 1
	}
	if yhi-ylo > maxDecades {
		ylo = yhi - maxDecades
	}
	if math.IsInf(xlo, 1) {
		xlo, xhi = 0, 1
	}
	if p.XTicks {
		xlo, xhi = math.Floor(xlo)-0.5, math.Ceil(xhi)+0.5
	}
	if !(xhi-xlo > 0) || math.IsInf(xhi-xlo, 0) { // one value, or a span float64 cannot hold
		w := math.Max(1, math.Abs(xlo)/2)
		xlo, xhi = xlo-w, xlo+w
		if math.IsInf(xhi-xlo, 0) {
			xlo, xhi = -math.MaxFloat64/2, math.MaxFloat64/2
		}
	}
	x := func(v float64) float64 {
		if !finite(v) {
			return pad
		}
		return pad + (v-xlo)/(xhi-xlo)*(W-2*pad)
	}
	y := func(v float64) float64 {
		if !finitePos(v) {
			return H - pad
		}
		return H - pad - (math.Max(math.Log10(v), ylo)-ylo)/(yhi-ylo)*(H-2*pad)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-size="11">`, W, H, W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`)
	for i := 0; i <= int(yhi-ylo); i++ { // at most maxDecades+1 lines
		e := ylo + float64(i)
		yy := y(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="4" y="%.1f">1e%d</text>`, pad, W-pad, yy, yy, yy+4, int(e))
	}
	if p.XTicks && xhi-xlo <= 200 {
		for i, v0 := 0, math.Ceil(xlo); i <= int(xhi-xlo); i++ { // counted: v++ stalls at large magnitudes
			if v := v0 + float64(i); v <= xhi {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%.0f</text>`, x(v), H-pad+16, v)
			}
		}
	}
	if p.RefY != nil && finitePos(*p.RefY) {
		ty := y(*p.RefY)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#b00" stroke-dasharray="4 3"/><text x="%.0f" y="%.1f" fill="#b00" text-anchor="end">%s</text>`,
			pad, W-pad, ty, ty, W-pad, ty-3, html.EscapeString(p.RefLabel))
	}
	var series []string // in order of first appearance
	colour := map[string]string{}
	for _, pt := range p.Points {
		if _, ok := colour[pt.Series]; !ok {
			colour[pt.Series] = palette[len(series)%len(palette)]
			series = append(series, pt.Series)
		}
	}
	if p.Connect {
		for _, s := range series {
			var pts []string
			for _, pt := range p.Points {
				if pt.Series == s {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(pt.X), y(pt.Y)))
				}
			}
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s"/>`, strings.Join(pts, " "), colour[s])
			}
		}
	}
	if len(series) > 1 || (len(series) == 1 && series[0] != "") {
		for i, s := range series[:min(len(series), maxLegend)] {
			ly := pad/2 + float64(i)*13
			fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="10" height="3" fill="%s"/><text x="%.0f" y="%.1f">%s</text>`, W-pad-150, ly-4, colour[s], W-pad-136, ly, html.EscapeString(s))
		}
	}
	for _, pt := range p.Points {
		c := colour[pt.Series]
		if pt.Bad {
			c = "#b00"
		}
		cx, cy := x(pt.X), y(pt.Y)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s</title></circle>`, cx, cy, c, html.EscapeString(pt.Title))
		if pt.Label != "" {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, cx+8, cy-6, html.EscapeString(pt.Label))
		}
		if pt.Tick != "" {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, cx, H-pad+16, html.EscapeString(pt.Tick))
		}
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text><text x="12" y="16">%s</text></svg>`,
		W/2, H-8, html.EscapeString(p.XLabel), html.EscapeString(p.YLabel))
	return SVG(b.String())
}
