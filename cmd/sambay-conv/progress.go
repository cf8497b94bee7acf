package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/schollz/progressbar/v3"
)

// A progress draws one bar per stage on a terminal: bytes written so far
// of a known total. Its callback is safe for concurrent use (writers call
// it from their workers); Finish clears the last bar.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	stage string
	bar   *progressbar.ProgressBar
}

// newProgress returns a progress on w, or nil when w is not a terminal or
// the user asked for quiet output (no bars then).
func newProgress(w io.Writer, quiet bool) *progress {
	if quiet || !isTerminal(w) {
		return nil
	}
	return &progress{w: w}
}

// Stage reports bytes done of total for stage.
func (p *progress) Stage(stage string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.switchTo(stage, total, true)
	if done > p.bar.State().CurrentNum {
		p.bar.Set64(done)
	}
}

// switchTo starts a new bar when the stage changes (the caller holds mu).
func (p *progress) switchTo(stage string, total int64, bytes bool) {
	if p.bar != nil && stage == p.stage {
		return
	}
	if p.bar != nil {
		p.bar.Finish()
	}
	p.stage = stage
	desc := stage
	if !bytes {
		desc += " blocks"
	}
	p.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(p.w), progressbar.OptionShowBytes(bytes),
		progressbar.OptionSetDescription(fmt.Sprintf("%-12s", desc)), progressbar.OptionClearOnFinish())
}

// Blocks reports a forward pass: blocks done of total.
func (p *progress) Blocks(stage string, done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.switchTo(stage, int64(total), false)
	p.bar.Set(done)
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
	if p.bar != nil {
		p.bar.Finish()
	}
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
