//go:build unix

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
)

// TestMain lets the kill test run the CLI in a child process: the test
// binary re-executes itself with SAMBAY_CONV_CHILD_ARGS set.
func TestMain(m *testing.M) {
	if a := os.Getenv("SAMBAY_CONV_CHILD_ARGS"); a != "" {
		code := run(context.Background(), append([]string{"sambay-conv"}, strings.Split(a, "\n")...), os.Stdout, os.Stderr)
		if p := os.Getenv("SAMBAY_CONV_CHILD_PEAK"); p != "" {
			// The child's own peak RSS: rusage of a child counts the
			// parent's pages at fork, /proc/self/status VmHWM does not.
			if b, err := os.ReadFile("/proc/self/status"); err == nil {
				os.WriteFile(p, b, 0o644)
			}
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func child(args ...string) *exec.Cmd {
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "SAMBAY_CONV_CHILD_ARGS="+strings.Join(args, "\n"))
	return c
}

// tree hashes every file under root (root itself when it is a file), by
// path relative to root.
func tree(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b = generated.ReplaceAll(b, []byte("generated (time)")) // reports carry the time of the run
		s := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		out[rel] = hex.EncodeToString(s[:])
		return nil
	})
	return out
}

var generated = regexp.MustCompile(`generated"?:? ?"?[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC`)

func same(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestKillAnywhere kills import, quant (GGUF and MLX), pipeline and verify
// --report with SIGKILL at a series of moments. After each kill the final
// path holds nothing or a complete output equal to an unkilled run's; the
// rerun (--force where the output exists) succeeds, removes what the killed
// run left, and writes byte-identical output.
func TestKillAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts about 200 processes")
	}
	hf, _ := filepath.Abs(filepath.Join(td, "sambay-tiny", "hf"))
	golden, _ := filepath.Abs(filepath.Join(td, "sambay-tiny", "golden-fp32.safetensors"))
	dir := t.TempDir()
	cases := []struct {
		name string
		out  string
		args []string
	}{
		{"import", "canon", []string{"import", hf, "-o"}},
		{"quant-gguf", "m.gguf", []string{"quant", hf, "--type", "q4_k_m", "-o"}},
		{"quant-mlx", "mlx", []string{"quant", hf, "--to", "mlx", "--group-size", "32", "-o"}},
		{"pipeline", "pipe", []string{"pipeline", hf, "--golden", golden, "--targets", "gguf:q8_0,mlx:8:32", "-o"}},
		{"verify-report", "r.html", []string{"verify", hf, "--golden", golden, "--report"}},
	}
	delays := []time.Duration{0, 1, 3, 6, 10, 20, 35, 60, 100, 160}
	points := 0
	for _, c := range cases {
		out := filepath.Join(dir, c.name, c.out)
		os.MkdirAll(filepath.Dir(out), 0o755)
		args := append(append([]string{}, c.args...), out)
		if b, err := child(args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: reference run: %v\n%s", c.name, err, b)
		}
		want := tree(t, out)
		os.RemoveAll(out)
		for _, d := range delays {
			cmd := child(args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(d * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			points++
			if _, err := os.Stat(out); err == nil && c.name != "pipeline" {
				if got := tree(t, out); !same(got, want) {
					t.Errorf("%s killed after %v: %s holds a partial or different output", c.name, d*time.Millisecond, out)
				}
			}
			rerun := args
			if _, err := os.Stat(out); err == nil {
				rerun = append(append([]string{}, args...), "--force")
			}
			if b, err := child(rerun...).CombinedOutput(); err != nil {
				t.Fatalf("%s: rerun after a kill at %v: %v\n%s", c.name, d*time.Millisecond, err, b)
			}
			if got := tree(t, out); !same(got, want) {
				t.Errorf("%s: the rerun after a kill at %v wrote different output", c.name, d*time.Millisecond)
			}
			left, _ := atomicfile.Leftovers(filepath.Dir(out))
			if c.name == "pipeline" {
				more, _ := atomicfile.Leftovers(out)
				left = append(left, more...)
			}
			if len(left) > 0 {
				sort.Strings(left)
				t.Errorf("%s: after the rerun, left behind: %v", c.name, left)
			}
			os.RemoveAll(out)
		}
	}
	t.Logf("%d kill points over %d commands", points, len(cases))
}
