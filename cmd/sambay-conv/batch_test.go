//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
)

// sweepSources writes n synthetic HF-layout sources of about 16 M
// parameters (big enough that a shard is still working when it is killed)
// under dir/src and a job file over them with three targets; it returns
// the job file.
func sweepSources(t *testing.T, dir string, n int, output string) string {
	t.Helper()
	cfg := testmodel.BenchConfig(0)
	cfg.NLayer, cfg.NEmbd, cfg.NHead, cfg.NKVHead, cfg.Intermediate, cfg.VocabSize, cfg.DtRank = 4, 512, 8, 4, 2048, 8192, 32
	for i := range n {
		d := filepath.Join(dir, "src", fmt.Sprintf("m%d", i))
		os.MkdirAll(d, 0o777)
		testmodel.WriteSynthetic(t, d, cfg, convert.HFConfigJSON(&cfg, nil, nil), 0)
	}
	return writeJob(t, dir, "jobs.yaml", output)
}

func writeJob(t *testing.T, dir, name, output string) string {
	job := fmt.Sprintf("output: %s\nsources: [src/*]\ntargets:\n  - gguf: q8_0\n  - gguf: q4_k_m\n  - mlx: 4\nverify:\n  against: true\n  tokens: 4\n", output)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(job), 0o666); err != nil {
		t.Fatal(err)
	}
	return p
}

// outputs hashes the job's outputs (not its records, leases and reports).
func outputs(t *testing.T, root string) map[string]string {
	all := tree(t, root)
	for k := range all {
		if strings.HasPrefix(k, ".batch") || strings.HasPrefix(k, "batch-report") {
			delete(all, k)
		}
	}
	return all
}

// sameOutputs reports every output that differs from the serial run's,
// is missing, or is not one of its outputs.
func sameOutputs(t *testing.T, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s differs from the serial run's (or is missing)", k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: not in the serial run's outputs (a leftover?)", k)
		}
	}
}

// TestBatchShardsKilled runs a job as 4 local shards at once, kills one
// with SIGKILL while it works, reruns it, and checks that every output
// exists once, byte-identical to a serial run's, with nothing left behind;
// then that a rerun of every shard recomputes nothing.
func TestBatchShardsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and quantizes 4 models of 16 M parameters, twice")
	}
	dir := t.TempDir()
	job := sweepSources(t, dir, 4, "out")
	serial := writeJob(t, dir, "serial.yaml", "serial")
	if code, out, errOut := runCLI(t, "batch", "run", serial); code != 0 {
		t.Fatalf("serial run: %d\n%s%s", code, out, errOut)
	}
	want := outputs(t, filepath.Join(dir, "serial"))
	if len(want) < 4*(1+1+1+4) {
		t.Fatalf("serial run wrote %d files", len(want))
	}
	const victim = 1
	var cmds []*os.Process
	logs := make([]*strings.Builder, 4)
	done := make(chan int, 4)
	for i := range 4 {
		c := child("batch", "run", job, "--shard", fmt.Sprintf("%d/4", i), "--json")
		logs[i] = &strings.Builder{}
		c.Stdout, c.Stderr = logs[i], logs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c.Process)
		go func() { c.Wait(); done <- i }()
		if i == victim {
			defer func() { t.Logf("victim's log:\n%s", logs[victim]) }()
		}
	}
	// Kill the victim once its import is recorded: its targets are in flight.
	records := filepath.Join(dir, "out", ".batch", "records")
	deadline := time.Now().Add(60 * time.Second)
	var group string
	for group == "" && time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(records, "*", "import.json"))
		for _, p := range m {
			rec, err := os.ReadFile(p)
			if err == nil && strings.Contains(string(rec), fmt.Sprintf(`"pid": %d`, cmds[victim].Pid)) {
				group = filepath.Base(filepath.Dir(p))
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if group == "" {
		t.Fatal("the victim shard recorded no import within 60 s")
	}
	if err := cmds[victim].Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v (the victim finished first; the models are too small for this machine)", err)
	}
	for range 4 {
		<-done
	}
	left, _ := filepath.Glob(filepath.Join(records, group, "*.json"))
	if len(left) == 4 {
		t.Fatalf("the victim finished its group before the kill landed")
	}
	t.Logf("killed shard %d in group %s after %d of its 4 records", victim, group, len(left))
	// The rerun of the killed shard takes over its lease, skips the import.
	code, out, errOut := runCLI(t, "batch", "run", job, "--shard", fmt.Sprintf("%d/4", victim))
	if code != 0 || !strings.Contains(out, "skipped  "+group+"/import") {
		t.Fatalf("rerun of shard %d: %d\n%s%s", victim, code, out, errOut)
	}
	sameOutputs(t, want, outputs(t, filepath.Join(dir, "out")))
	for _, g := range []string{"m0", "m1", "m2", "m3"} {
		for _, d := range []string{filepath.Join(dir, "out", g), filepath.Join(dir, "out", g, "canonical")} {
			if l, _ := atomicfile.Leftovers(d); len(l) > 0 {
				t.Errorf("left behind: %v", l)
			}
		}
	}
	if l, _ := filepath.Glob(filepath.Join(dir, "out", ".batch", "locks", "*")); len(l) > 0 {
		t.Errorf("leases left: %v", l)
	}
	// Every shard again: nothing is recomputed.
	for i := range 4 {
		code, out, errOut := runCLI(t, "batch", "run", job, "--shard", fmt.Sprintf("%d/4", i), "--json")
		if code != 0 || strings.Contains(out, `"status":"done"`) || !strings.Contains(out, `"done":0,`) || !strings.Contains(out, `"skipped":4,`) {
			t.Errorf("second run of shard %d: %d\n%s%s", i, code, out, errOut)
		}
	}
	if code, out, errOut := runCLI(t, "batch", "merge", filepath.Join(dir, "out")); code != 0 || !strings.Contains(out, "16 records, 0 missing, 0 failed") {
		t.Errorf("merge: %d\n%s%s", code, out, errOut)
	}
}
