//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
