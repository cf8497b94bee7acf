package tokenizer

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkEncode measures encoding of the 1.2 MB fixture corpus on one
// goroutine and, where node and the tiktoken npm package are found
// (NODE_PATH, as for the fixture script), tiktoken's WebAssembly encoder on
// the same corpus in the same run, rounds interleaved; it reports both in
// MB/s and their ratio. The cache of merged pieces is emptied before each
// Go round, so that every round pays the merges.
func BenchmarkEncode(b *testing.B) {
	corpus := string(gunzip(b, "corpus.txt.gz"))
	mb := float64(len(corpus)) / 1e6
	node, err := exec.LookPath("node")
	script, _ := filepath.Abs("../reference/tokenizer/bench.mjs")
	gz, _ := filepath.Abs(filepath.Join(fixtures, "corpus.txt.gz"))
	for _, name := range []string{"o200k_base", "gpt2"} {
		b.Run(name, func(b *testing.B) {
			tk := loadTiktoken(b, name)
			var goBest, jsBest float64
			for b.Loop() {
				for round := 0; round < 3; round++ {
					tk.mu.Lock()
					clear(tk.cache)
					tk.mu.Unlock()
					start := time.Now()
					tk.Encode(corpus)
					goBest = max(goBest, mb/time.Since(start).Seconds())
					if err == nil {
						cmd := exec.Command(node, script, gz, name)
						var out bytes.Buffer
						cmd.Stdout, cmd.Stderr = &out, os.Stderr
						if cmd.Run() == nil {
							if v, perr := strconv.ParseFloat(strings.TrimSpace(out.String()), 64); perr == nil {
								jsBest = max(jsBest, v)
							}
						}
					}
				}
			}
			b.ReportMetric(goBest, "go-MB/s")
			if jsBest > 0 {
				b.ReportMetric(jsBest, "tiktoken-MB/s")
				b.ReportMetric(goBest/jsBest, "go/tiktoken")
			} else {
				fmt.Fprintln(os.Stderr, "tiktoken comparison SKIPPED: node or the tiktoken npm package (NODE_PATH) not found")
			}
		})
	}
}
