package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMarkdownAndHTML(t *testing.T) {
	d := &Doc{Title: "t <1>", Blocks: []Block{
		Heading{Level: 1, Text: "Parity: PASS", Class: "pass"},
		Para("see `a<b` and **bold**"),
		List{"got: `x`"},
		Table{Head: []string{"name", "value"}, Right: []bool{false, true}, Rows: [][]string{{`max \|logit\|`, "1.5"}, {"check", "FAIL"}}},
		SVG("<svg></svg>"),
	}}
	var md strings.Builder
	d.Markdown(&md)
	want := "# Parity: PASS\n\nsee `a<b` and **bold**\n\n- got: `x`\n\n| name | value |\n|---|---:|\n| max \\|logit\\| | 1.5 |\n| check | FAIL |\n"
	if md.String() != want {
		t.Errorf("markdown:\n%q\nwant\n%q", md.String(), want)
	}
	var h strings.Builder
	d.HTML(&h)
	for _, s := range []string{"<title>t &lt;1&gt;</title>", `<h1 class="pass">Parity: PASS</h1>`, "<code>a&lt;b</code>", "<strong>bold</strong>",
		`<th class="num">value</th>`, "<td>max |logit|</td>", `<td class="fail">FAIL</td>`, "<figure><svg></svg></figure>", "<li>got: <code>x</code></li>"} {
		if !strings.Contains(h.String(), s) {
			t.Errorf("HTML lacks %s:\n%s", s, h.String())
		}
	}
	if strings.Contains(h.String(), "<pre>") {
		t.Error("HTML wraps Markdown in <pre>")
	}
}

// TestPlotHostileValues draws plots of Inf, NaN, 0, negative and extreme
// values: each finishes (the scale is bounded) and yields well-formed SVG.
func TestPlotHostileValues(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, ys := range [][]float64{{inf}, {nan}, {0}, {-1}, {1e-300, 1e300}, {inf, 1e-5, nan}, {}} {
		p := Plot{XLabel: "x", YLabel: "y", Connect: true, XTicks: true}
		for i, y := range ys {
			p.Points = append(p.Points, Point{X: float64(i), Y: y})
		}
		ref := inf
		p.RefY = &ref
		s := string(p.SVG())
		if !strings.HasPrefix(s, "<svg") || !strings.HasSuffix(s, "</svg>") || strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
			t.Errorf("%v: bad SVG %.200s", ys, s)
		}
		if n := strings.Count(s, "<line"); n > maxDecades+2 {
			t.Errorf("%v: %d grid lines", ys, n)
		}
	}
	p := Plot{Points: []Point{{X: inf, Y: 1}, {X: nan, Y: 2}, {X: 1e308, Y: 3}}, XTicks: true}
	if s := string(p.SVG()); strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
		t.Errorf("non-finite x: %.200s", s)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	d := &Doc{Blocks: []Block{Para("x")}}
	for _, name := range []string{"r.md", "r.html", "r.HTM", "r.json"} {
		if err := WriteFile(filepath.Join(dir, name), d, map[string]int{"a": 1}); err != nil {
			t.Error(err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "r.json")); string(b) != "{\n  \"a\": 1\n}\n" {
		t.Errorf("json %q", b)
	}
	if err := WriteFile(filepath.Join(dir, "r.txt"), d, nil); err == nil {
		t.Error(".txt accepted")
	}
	if err := WriteFile(filepath.Join(dir, "inf.json"), d, math.Inf(1)); err == nil || !strings.Contains(err.Error(), "inf.json") {
		t.Errorf("Inf in JSON: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "inf.json")); err == nil {
		t.Error("a failed JSON report left a file")
	}
}

// TestCode: preformatted text survives both formats verbatim; a fence in
// the text does not end the Markdown block early.
func TestCode(t *testing.T) {
	text := "func main() {\n\ts := \"```\" + `<b>`\n}\n"
	d := &Doc{Blocks: []Block{Code(text)}}
	var md, h strings.Builder
	d.Markdown(&md)
	if want := "````\n" + strings.TrimSuffix(text, "\n") + "\n````\n"; md.String() != want {
		t.Errorf("markdown:\n%q\nwant\n%q", md.String(), want)
	}
	d.HTML(&h)
	if want := "<pre><code>func main() {\n\ts := &#34;```&#34; + `&lt;b&gt;`\n}\n</code></pre>"; !strings.Contains(h.String(), want) {
		t.Errorf("HTML lacks %q:\n%s", want, h.String())
	}
}
