package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a progress clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressBar(t *testing.T) {
	var out strings.Builder
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := &progress{w: &out, width: 80, now: clock.now}

	p.Stage("quantize", 0, 4e9)
	first := out.String()
	if !strings.HasPrefix(first, "\rquantize     [>") || !strings.Contains(first, "  0% 0 B/4 GB") {
		t.Fatalf("first frame %q", first)
	}
	// Reports inside redrawEvery are not drawn; the next one after it is,
	// with the rate once half a second has passed.
	clock.t = clock.t.Add(10 * time.Millisecond)
	p.Stage("quantize", 1e9, 4e9)
	if out.String() != first {
		t.Fatalf("redrawn within %v: %q", redrawEvery, out.String()[len(first):])
	}
	clock.t = clock.t.Add(time.Second)
	p.Stage("quantize", 2e9, 4e9)
	frame := out.String()[len(first):]
	if bar := frame[strings.Index(frame, "[")+1 : strings.Index(frame, "]")]; len(bar) < 10 ||
		strings.Count(bar, "=") != len(bar)/2 || !strings.Contains(frame, " 50% 2 GB/4 GB 1.98 GB/s") {
		t.Fatalf("half-way frame %q", frame)
	}
	// Going back (a slower worker's report) draws nothing; completion is
	// drawn at once.
	n := out.Len()
	clock.t = clock.t.Add(time.Second)
	p.Stage("quantize", 1e9, 4e9)
	if out.Len() != n {
		t.Fatalf("a report behind the bar redrew it: %q", out.String()[n:])
	}
	p.Stage("quantize", 4e9, 4e9)
	if frame := out.String()[n:]; !strings.Contains(frame, "=] 100% 4 GB/4 GB") || strings.Contains(frame, " ]") {
		t.Fatalf("last frame %q", frame)
	}
	for _, line := range strings.Split(out.String(), "\r")[1:] {
		if len(line) >= 80 {
			t.Errorf("frame of %d columns on an 80-column terminal: %q", len(line), line)
		}
	}

	// A new stage starts its own bar; a shorter line blanks the rest of the
	// longer one; Finish clears what is on screen.
	n = out.Len()
	p.Blocks("forward", 1, 3)
	frame = out.String()[n:]
	if !strings.HasPrefix(frame, "\rforward blocks [") || !strings.Contains(frame, " 33% 1/3") {
		t.Fatalf("blocks frame %q", frame)
	}
	visible := p.visible
	p.Finish()
	if got := out.String()[n+len(frame):]; got != "\r"+strings.Repeat(" ", visible)+"\r" {
		t.Fatalf("Finish wrote %q", got)
	}

	// A narrow terminal gets no bar, only the figures, cut to fit.
	out.Reset()
	narrow := &progress{w: &out, width: 20, now: clock.now}
	narrow.Stage("export", 5, 10)
	if s := out.String(); strings.Contains(s, "[") || len(s) > 20 {
		t.Fatalf("20-column frame %q", s)
	}
}

// TestProgressConcurrent runs reports from several goroutines (the race
// detector checks the locking) and checks the last frame shows the total.
func TestProgressConcurrent(t *testing.T) {
	var out strings.Builder
	p := &progress{w: &out, width: 100, now: time.Now}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var done int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				mu.Lock()
				done += 1000
				d := done
				mu.Unlock()
				p.Stage("write", d, 1e6)
			}
		}()
	}
	wg.Wait()
	frames := strings.Split(out.String(), "\r")
	if last := frames[len(frames)-1]; !strings.Contains(last, "100% 1 MB/1 MB") {
		t.Fatalf("last frame %q", last)
	}
	var nilBar *progress
	if nilBar.Func("x") != nil {
		t.Error("a nil progress returned a callback")
	}
	nilBar.Finish()
}
