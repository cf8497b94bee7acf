//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of the given options at a new folder, or skips
// the test where this process may not mount (it needs root).
func mountTmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, opts); err != nil {
		t.Skipf("SKIPPED: cannot mount a tmpfs here (%v); the disk-full cases need root", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	return dir
}

// TestDiskFull runs every writing command into small tmpfs file systems so
// that the disk fills at different points of the write: each fails with an
// error that names the output and says the device is full, and leaves
// nothing behind (no output, no temporary file, no lock).
func TestDiskFull(t *testing.T) {
	hf := filepath.Join(td, "sambay-tiny", "hf")
	golden := filepath.Join(td, "sambay-tiny", "golden-fp32.safetensors")
	cases := 0
	for _, size := range []string{"4k", "32k", "96k", "160k", "224k"} {
		for _, c := range []struct {
			name string
			args func(out string) []string
		}{
			{"import", func(o string) []string { return []string{"import", hf, "-o", filepath.Join(o, "canon")} }},
			{"quant gguf", func(o string) []string {
				return []string{"quant", hf, "--type", "f32", "-o", filepath.Join(o, "m.gguf")}
			}},
			{"quant mlx", func(o string) []string {
				return []string{"quant", hf, "--to", "mlx", "--group-size", "32", "--bits", "8", "-o", filepath.Join(o, "mlx")}
			}},
			{"verify logits", func(o string) []string {
				return []string{"verify", hf, "--golden", golden, "--logits-out", filepath.Join(o, "l.safetensors")}
			}},
		} {
			fs := mountTmpfs(t, 0, "size="+size)
			code, _, stderr := runCLI(t, c.args(fs)...)
			cases++
			if code == 0 {
				continue // it fitted: nothing to check at this size
			}
			if !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, fs) || (c.name != "verify logits" && c.name != "quant mlx" && !strings.Contains(stderr, "writing "+fs)) {
				t.Errorf("%s on a %s file system: %q (want the path and ENOSPC)", c.name, size, stderr)
			}
			if es, _ := os.ReadDir(fs); len(es) != 0 {
				var names []string
				for _, e := range es {
					names = append(names, e.Name())
				}
				t.Errorf("%s on a %s file system left %v", c.name, size, names)
			}
		}
	}
	// A read-only output file system: a clear error, nothing written.
	ro := mountTmpfs(t, syscall.MS_RDONLY, "size=1m")
	for _, args := range [][]string{{"import", hf, "-o", filepath.Join(ro, "canon")}, {"quant", hf, "--type", "q8_0", "-o", filepath.Join(ro, "m.gguf")}} {
		code, _, stderr := runCLI(t, args...)
		if code != exitFailure || !strings.Contains(stderr, "read-only file system") {
			t.Errorf("%v on a read-only file system: exit %d %q", args[:2], code, stderr)
		}
	}
	t.Logf("%d disk-full cases", cases)
}

// TestUnreadableSource: a source the user cannot read fails with its path.
func TestUnreadableSource(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("SKIPPED: root reads files whatever their mode, so an unreadable source cannot be made here")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "m.pth")
	b, _ := os.ReadFile(filepath.Join(td, "sambay-tiny", "archscale-head.pth"))
	os.WriteFile(src, b, 0o000)
	code, _, stderr := runCLI(t, "import", src, "-o", filepath.Join(dir, "out"))
	if code != exitFailure || !strings.Contains(stderr, src) || !strings.Contains(stderr, "permission denied") {
		t.Errorf("unreadable source: exit %d %q", code, stderr)
	}
}

// TestHostileSideFiles: a model folder whose tokenizer.json links outside
// it, whose config.json is a FIFO, or whose shard is a FIFO: every command
// ends at once with an error naming the file, and nothing outside the
// folder is copied into an output.
func TestHostileSideFiles(t *testing.T) {
	hf := filepath.Join(td, "phi4flash-tiny", "hf")
	mk := func(t *testing.T, change func(dir string)) string {
		dir := filepath.Join(t.TempDir(), "m")
		os.MkdirAll(dir, 0o755)
		for _, n := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"} {
			b, _ := os.ReadFile(filepath.Join(hf, n))
			os.WriteFile(filepath.Join(dir, n), b, 0o644)
		}
		change(dir)
		return dir
	}
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("root:x:0:0"), 0o600)
	cases := []struct {
		name   string
		change func(dir string)
		want   string
	}{
		{"tokenizer links outside", func(d string) {
			os.Remove(filepath.Join(d, "tokenizer.json"))
			os.Symlink(secret, filepath.Join(d, "tokenizer.json"))
		}, "outside the model folder"},
		{"config is a FIFO", func(d string) {
			os.Remove(filepath.Join(d, "config.json"))
			syscall.Mkfifo(filepath.Join(d, "config.json"), 0o644)
		}, "config.json"},
		{"shard is a FIFO", func(d string) {
			os.Remove(filepath.Join(d, "model.safetensors"))
			syscall.Mkfifo(filepath.Join(d, "model.safetensors"), 0o644)
		}, "model.safetensors"},
	}
	for _, c := range cases {
		dir := mk(t, c.change)
		out := filepath.Join(t.TempDir(), "out")
		runs := [][]string{{"import", dir, "-o", out}, {"quant", dir, "--type", "q8_0", "-o", out + ".gguf"},
			{"quant", dir, "--to", "mlx", "--group-size", "32", "-o", out + "-mlx"}, {"inspect", dir}}
		if c.name != "tokenizer links outside" { // verify never reads the tokenizer
			runs = append(runs, []string{"verify", dir, "--decode", "--tokens", "1,2"})
		}
		for _, args := range runs {
			done := make(chan struct{})
			var code int
			var stderr string
			go func() { code, _, stderr = runCLI(t, args...); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("%s: %v hangs", c.name, args[:1])
			}
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Errorf("%s: %v: exit %d %q", c.name, args[:1], code, stderr)
			}
		}
		for _, p := range []string{out, out + ".gguf", out + "-mlx"} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s: %s was written", c.name, p)
			}
		}
	}
}
