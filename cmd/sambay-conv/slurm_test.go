//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
)

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// slurmUp brings up a one-node Slurm cluster (scripts/slurm-up.sh) for the
// test and stops it at the end; it skips the test where that cannot be
// done (no root, no apt-get).
func slurmUp(t *testing.T) (env []string) {
	state := filepath.Join(t.TempDir(), "slurm")
	up, _ := filepath.Abs("../../scripts/slurm-up.sh")
	down, _ := filepath.Abs("../../scripts/slurm-down.sh")
	cmd := exec.Command("sh", up, state)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SLURM_CTLD_PORT=%d", freePort(t)), fmt.Sprintf("SLURMD_PORT=%d", freePort(t)))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Skipf("no Slurm here: %s", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if b, err := exec.Command("sh", down, state).CombinedOutput(); err != nil {
			t.Errorf("slurm-down: %v\n%s", err, b)
		}
	})
	if err != nil {
		t.Fatalf("slurm-up: %v\n%s", err, out)
	}
	return []string{"SLURM_CONF=" + filepath.Join(state, "slurm.conf")}
}

// slurmCmd runs a Slurm client command and returns its output.
func slurmCmd(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(), env...)
	b, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return strings.TrimSpace(string(b))
}

// waitFor polls cond every 100 ms for up to limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s", limit, what)
}

// jobState is a job's state in squeue, or "" once it has left the queue.
func jobState(t *testing.T, env []string, id string) string {
	c := exec.Command("squeue", "-h", "-j", id, "-o", "%T")
	c.Env = append(os.Environ(), env...)
	b, _ := c.Output()
	return strings.TrimSpace(string(b))
}

// TestSlurmArray runs a job file as a real Slurm job array on a one-node
// cluster: 4 sources × 3 targets in 3 shards and the merge job after them.
// One running shard is killed (SIGKILL through scancel) and requeued. Every
// output then exists once, byte-identical to a serial run's, with one
// merged report; a second submission of the whole array recomputes nothing.
func TestSlurmArray(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Slurm cluster")
	}
	env := slurmUp(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "sambay-conv")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	job := sweepSources(t, dir, 4, "out")
	b, _ := os.ReadFile(job)
	os.WriteFile(job, append(b, "slurm:\n  cpus: 1\n  mem: 1G\n  binary: "+bin+"\n"...), 0o666)
	serial := writeJob(t, dir, "serial.yaml", "serial")
	if code, out, errOut := runCLI(t, "batch", "run", serial); code != 0 {
		t.Fatalf("serial run: %d\n%s%s", code, out, errOut)
	}
	want := outputs(t, filepath.Join(dir, "serial"))

	script := filepath.Join(dir, "submit.sh")
	if code, out, errOut := runCLI(t, "batch", "slurm", job, "--shards", "3", "-o", script); code != 0 {
		t.Fatalf("batch slurm: %d\n%s%s", code, out, errOut)
	}
	submit := func() (array, merge string) {
		out := slurmCmd(t, env, "sh", script)
		m := regexp.MustCompile(`array job (\d+), merge job (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("submit: %s", out)
		}
		return m[1], m[2]
	}
	array, merge := submit()
	root := filepath.Join(dir, "out")

	// Pick the shard of the first group whose import is recorded while its
	// targets are not, and kill that array task's process.
	var victim, group string
	waitFor(t, "an import record", 120*time.Second, func() bool {
		var plan struct {
			Groups []struct {
				Name  string `json:"name"`
				Shard int    `json:"shard"`
			} `json:"groups"`
		}
		b, err := os.ReadFile(filepath.Join(root, ".batch", "plan.json"))
		if err != nil || json.Unmarshal(b, &plan) != nil {
			return false
		}
		for _, g := range plan.Groups {
			recs, _ := filepath.Glob(filepath.Join(root, ".batch", "records", g.Name, "*.json"))
			if len(recs) >= 1 && len(recs) < 4 {
				victim, group = fmt.Sprintf("%s_%d", array, g.Shard), g.Name
				return jobState(t, env, victim) == "RUNNING"
			}
		}
		return false
	})
	slurmCmd(t, env, "scancel", "--signal=KILL", "--batch", victim)
	waitFor(t, "the killed task to end", 60*time.Second, func() bool { return jobState(t, env, victim) != "RUNNING" })
	recs, _ := filepath.Glob(filepath.Join(root, ".batch", "records", group, "*.json"))
	t.Logf("killed array task %s (group %s) after %d of its 4 records", victim, group, len(recs))
	if len(recs) == 4 {
		t.Fatal("the killed task had finished its group")
	}
	// Requeue it (a failed task is held back for a while unless told to start).
	slurmCmd(t, env, "scontrol", "requeue", victim)
	slurmCmd(t, env, "scontrol", "update", "JobId="+victim, "StartTime=now")
	waitFor(t, "the array to finish", 300*time.Second, func() bool { return jobState(t, env, array) == "" })
	// Slurm cancels the merge job once the array ends (the killed task's
	// failure stays on the array: afterok can never hold,
	// --kill-on-invalid-dep); the array done, submit the merge again, as
	// docs/BATCH.md tells an operator to.
	mergeLog := filepath.Join(root, ".batch", "logs", "merge.log")
	if jobState(t, env, merge) != "" {
		waitFor(t, "the merge job", 120*time.Second, func() bool { return jobState(t, env, merge) == "" })
	}
	if b, _ := os.ReadFile(mergeLog); !strings.Contains(string(b), "16 records, 0 missing, 0 failed") {
		slurmCmd(t, env, "sbatch", "--parsable", "--output="+mergeLog, "--open-mode=append",
			"--wrap=exec "+bin+" batch merge "+root)
		waitFor(t, "the merge report", 120*time.Second, func() bool {
			b, _ := os.ReadFile(mergeLog)
			return strings.Contains(string(b), "16 records, 0 missing, 0 failed")
		})
	}
	sameOutputs(t, want, outputs(t, root))
	for _, g := range []string{"m0", "m1", "m2", "m3"} {
		if l, _ := atomicfile.Leftovers(filepath.Join(root, g)); len(l) > 0 {
			t.Errorf("left behind: %v", l)
		}
	}
	for _, ext := range []string{".md", ".json", ".html"} {
		if _, err := os.Stat(filepath.Join(root, "batch-report"+ext)); err != nil {
			t.Error(err)
		}
	}

	// The whole array again: every task is skipped, no output is rewritten.
	before := stamps(t, root)
	array, merge = submit()
	waitFor(t, "the second array and merge", 300*time.Second, func() bool {
		return jobState(t, env, array) == "" && jobState(t, env, merge) == ""
	})
	for k, v := range stamps(t, root) {
		if before[k] != v && !strings.HasPrefix(k, ".batch/logs") && !strings.HasPrefix(k, "batch-report") && k != ".batch/plan.json" {
			t.Errorf("%s was rewritten by the second submission", k)
		}
	}
	for i := range 3 {
		b, _ := os.ReadFile(filepath.Join(root, ".batch", "logs", fmt.Sprintf("shard-%d.log", i)))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if last := lines[len(lines)-1]; !strings.Contains(last, `"done":0,`) || !strings.Contains(last, `"failed":0,`) {
			t.Errorf("shard %d's second run: %s", i, last)
		}
	}
}

// stamps maps every file under root to its size and modification time.
func stamps(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return out
}
