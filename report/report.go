// Package report writes the tool's reports: a Doc of headings, paragraphs,
// lists, tables and plots, as Markdown or as one self-contained HTML page
// (real tables, inline SVG plots), plus JSON of the caller's value. verify
// and pipeline build Docs; only this package formats them.
package report

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
)

// A Doc is a report.
type Doc struct {
	Title  string // the HTML page title
	Blocks []Block
}

// A Block is one part of a Doc.
type Block interface {
	markdown(w io.Writer)
	html(w io.Writer)
}

// Heading is a section title; Class ("pass", "fail") colours it in HTML.
type Heading struct {
	Level int
	Text  string
	Class string
}

// Para is a paragraph of text with Markdown inline `code` and **bold**.
type Para string

// List is a bulleted list; items take inline markup like Para.
type List []string

// Table is a table; Right marks right-aligned columns. Cells take inline
// markup like Para; a cell may hold "\|" for a literal bar in Markdown.
type Table struct {
	Head  []string
	Right []bool
	Rows  [][]string
}

// SVG is a plot, drawn in HTML only.
type SVG string

func (h Heading) markdown(w io.Writer) {
	fmt.Fprintf(w, "%s %s\n", strings.Repeat("#", max(1, h.Level)), h.Text)
}

func (h Heading) html(w io.Writer) {
	l := min(max(1, h.Level), 6)
	cls := ""
	if h.Class != "" {
		cls = fmt.Sprintf(" class=%q", h.Class)
	}
	fmt.Fprintf(w, "<h%d%s>%s</h%d>\n", l, cls, inline(h.Text), l)
}

func (p Para) markdown(w io.Writer) { fmt.Fprintf(w, "%s\n", string(p)) }
func (p Para) html(w io.Writer)     { fmt.Fprintf(w, "<p>%s</p>\n", inline(string(p))) }

func (l List) markdown(w io.Writer) {
	for _, it := range l {
		fmt.Fprintf(w, "- %s\n", it)
	}
}

func (l List) html(w io.Writer) {
	fmt.Fprintln(w, "<ul>")
	for _, it := range l {
		fmt.Fprintf(w, "<li>%s</li>\n", inline(it))
	}
	fmt.Fprintln(w, "</ul>")
}

func (t Table) right(i int) bool { return i < len(t.Right) && t.Right[i] }

func (t Table) markdown(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n|", strings.Join(t.Head, " | "))
	for i := range t.Head {
		if t.right(i) {
			fmt.Fprint(w, "---:|")
		} else {
			fmt.Fprint(w, "---|")
		}
	}
	fmt.Fprintln(w)
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

func (t Table) html(w io.Writer) {
	fmt.Fprint(w, "<table>\n<thead><tr>")
	for i, h := range t.Head {
		fmt.Fprintf(w, "<th%s>%s</th>", t.align(i), inline(h))
	}
	fmt.Fprint(w, "</tr></thead>\n<tbody>\n")
	for _, r := range t.Rows {
		fmt.Fprint(w, "<tr>")
		for i, c := range r {
			cls := t.align(i)
			if c == "PASS" || c == "FAIL" {
				cls = fmt.Sprintf(" class=%q", strings.ToLower(c))
			}
			fmt.Fprintf(w, "<td%s>%s</td>", cls, inline(c))
		}
		fmt.Fprint(w, "</tr>\n")
	}
	fmt.Fprint(w, "</tbody>\n</table>\n")
}

func (t Table) align(i int) string {
	if t.right(i) {
		return ` class="num"`
	}
	return ""
}

func (s SVG) markdown(io.Writer) {}
func (s SVG) html(w io.Writer)   { fmt.Fprintf(w, "<figure>%s</figure>\n", string(s)) }

// Code is preformatted text (a model's output, a command), shown verbatim.
type Code string

func (c Code) markdown(w io.Writer) {
	// The fence is longer than any run of backticks in the text.
	fence, run := 3, 0
	for _, r := range string(c) {
		if r != '`' {
			run = 0
			continue
		}
		if run++; run >= fence {
			fence = run + 1
		}
	}
	f := strings.Repeat("`", fence)
	fmt.Fprintf(w, "%s\n%s\n%s\n", f, strings.TrimSuffix(string(c), "\n"), f)
}

func (c Code) html(w io.Writer) {
	fmt.Fprintf(w, "<pre><code>%s</code></pre>\n", html.EscapeString(string(c)))
}

var (
	codeRe = regexp.MustCompile("`([^`]*)`")
	boldRe = regexp.MustCompile(`\*\*([^*]+)\*\*`)
)

// inline turns Markdown inline markup into escaped HTML.
func inline(s string) string {
	s = html.EscapeString(strings.ReplaceAll(s, `\|`, "|"))
	s = codeRe.ReplaceAllString(s, "<code>$1</code>")
	return boldRe.ReplaceAllString(s, "<strong>$1</strong>")
}

// Markdown writes the Doc as Markdown, blocks separated by a blank line.
func (d *Doc) Markdown(w io.Writer) {
	for i, b := range d.Blocks {
		if _, isSVG := b.(SVG); isSVG {
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		b.markdown(w)
	}
}

const style = `body{font-family:sans-serif;margin:2em;max-width:70em;color:#222}` +
	`table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}` +
	`td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}thead th{background:#f4f4f4}` +
	`code{background:#f4f4f4;padding:0 3px}.fail{color:#b00}.pass{color:#070}figure{margin:1em 0}`

// HTML writes the Doc as one self-contained HTML page.
func (d *Doc) HTML(w io.Writer) {
	fmt.Fprintf(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title><style>%s</style></head><body>\n", html.EscapeString(d.Title), style)
	for _, b := range d.Blocks {
		b.html(w)
	}
	fmt.Fprintln(w, "</body></html>")
}

// WriteFile writes a report to path in the format its extension names:
// .md and .html (or .htm) render d, .json marshals v (indented). The file
// is replaced only when complete.
func WriteFile(path string, d *Doc, v any) error {
	var b strings.Builder
	switch strings.ToLower(filepath.Ext(path)) {
	case ".md":
		d.Markdown(&b)
	case ".html", ".htm":
		d.HTML(&b)
	case ".json":
		j, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("report %s: %w", path, err)
		}
		b.Write(j)
		b.WriteByte('\n')
	default:
		return fmt.Errorf("report %s: unknown format (want .md, .html or .json)", path)
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}
