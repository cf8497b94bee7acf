package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// A progress draws one bar per stage on a terminal: bytes (or blocks) done
// so far of a known total. Its callbacks are safe for concurrent use
// (writers call them from their workers); Finish clears the last bar.
//
// The bar is drawn here rather than by a library: the one this tool used
// (schollz/progressbar) links net/http, crypto/tls and cgo into a binary
// that never touches the network, about a third of every command's start.
type progress struct {
	w     io.Writer
	width int // terminal columns
	now   func() time.Time

	mu      sync.Mutex
	stage   string
	bytes   bool
	total   int64
	done    int64
	start   time.Time
	drawn   time.Time // last redraw
	visible int       // columns of the bar on screen
}

// redrawEvery bounds how often a bar is redrawn: writers report every few
// hundred kilobytes, far more often than a terminal can show.
const redrawEvery = 100 * time.Millisecond

// newProgress returns a progress on w, or nil when w is not a terminal or
// the user asked for quiet output (no bars then).
func newProgress(w io.Writer, quiet bool) *progress {
	if quiet || !isTerminal(w) {
		return nil
	}
	width := 80
	if f, ok := w.(*os.File); ok {
		if c, _, err := term.GetSize(int(f.Fd())); err == nil && c > 0 {
			width = c
		}
	}
	return &progress{w: w, width: width, now: time.Now}
}

// Stage reports bytes done of total for stage.
func (p *progress) Stage(stage string, done, total int64) { p.report(stage, true, done, total) }

// Blocks reports a forward pass: blocks done of total.
func (p *progress) Blocks(stage string, done, total int) {
	p.report(stage, false, int64(done), int64(total))
}

// report moves the bar of stage to done (never back), starting a new bar
// when the stage changes; it redraws at most every redrawEvery, and always
// when the stage starts or completes.
func (p *progress) report(stage string, bytes bool, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if stage != p.stage || bytes != p.bytes || p.start.IsZero() {
		p.stage, p.bytes, p.total, p.done, p.start = stage, bytes, total, 0, now
		p.drawn = time.Time{}
	}
	p.total = total
	if done <= p.done && !p.drawn.IsZero() {
		return
	}
	p.done = max(p.done, done)
	if !p.drawn.IsZero() && now.Sub(p.drawn) < redrawEvery && p.done < p.total {
		return
	}
	p.drawn = now
	p.draw(now)
}

// draw writes the bar over the previous one (the caller holds mu):
//
//	quantize     [=========>          ]  45% 1.20 GB/2.67 GB 310 MB/s
func (p *progress) draw(now time.Time) {
	desc := p.stage
	if !p.bytes {
		desc += " blocks"
	}
	var frac float64
	if p.total > 0 {
		frac = min(1, float64(p.done)/float64(p.total))
	}
	var tail string
	if p.bytes {
		tail = fmt.Sprintf("%3.0f%% %s/%s", 100*frac, humanBytes(p.done), humanBytes(p.total))
		if s := now.Sub(p.start).Seconds(); s >= 0.5 {
			tail += " " + humanBytes(int64(float64(p.done)/s)) + "/s"
		}
	} else {
		tail = fmt.Sprintf("%3.0f%% %d/%d", 100*frac, p.done, p.total)
	}
	head := fmt.Sprintf("%-12s ", desc)
	cells := min(40, p.width-len(head)-len(tail)-4)
	var bar string
	if cells >= 10 {
		full := int(frac * float64(cells))
		arrow := ""
		if full < cells {
			arrow = ">"
		}
		bar = "[" + strings.Repeat("=", full) + arrow + strings.Repeat(" ", cells-full-len(arrow)) + "] "
	}
	line := head + bar + tail
	if len(line) >= p.width {
		line = line[:max(0, p.width-1)]
	}
	pad := max(0, p.visible-len(line))
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.visible = len(line)
}

// Func returns the callback of one stage (nil for a nil progress).
func (p *progress) Func(stage string) func(done, total int64) {
	if p == nil {
		return nil
	}
	return func(done, total int64) { p.Stage(stage, done, total) }
}

// Finish clears the bar.
func (p *progress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.visible > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.visible))
		p.visible = 0
	}
	p.stage, p.start = "", time.Time{}
}

// humanBytes writes a byte count in decimal units: 2.43 GB, 206.4 kB.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.3g %s", v, []string{"B", "kB", "MB", "GB", "TB"}[i])
}
