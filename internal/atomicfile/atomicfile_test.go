//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs f under umask 022, the usual default, and restores the old one.
func withUmask(t *testing.T, f func()) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	f()
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileModeAndContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.gguf")
	withUmask(t, func() {
		if err := WriteFile(p, []byte("hello")); err != nil {
			t.Fatal(err)
		}
	})
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read back %q, %v", b, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 under umask 022", fi.Mode().Perm())
	}
	if es := entries(t, dir); len(es) != 1 {
		t.Errorf("folder holds %v, want only out.gguf", es)
	}
}

func TestCreateUniqueTempAndCleanup(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	a, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() == b.Name() {
		t.Fatalf("two writers share the temporary name %s", a.Name())
	}
	if !strings.HasPrefix(filepath.Base(a.Name()), ".x.json.tmp-") {
		t.Errorf("temporary name %s does not say what it is for", a.Name())
	}
	a.Write([]byte("partial"))
	a.Cleanup()
	b.Cleanup()
	if es := entries(t, dir); len(es) != 0 {
		t.Errorf("left behind: %v", es)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("final path exists after Cleanup without Commit: %v", err)
	}
}

func TestCommitReplacesAndCleanupAfterCommitKeeps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.md")
	os.WriteFile(p, []byte("old"), 0o644)
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new"))
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Cleanup()
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("content %q after commit, want new", b)
	}
	if err := f.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
}

func TestCreateInMissingFolderFails(t *testing.T) {
	_, err := Create(filepath.Join(t.TempDir(), "no", "such", "f"))
	if err == nil {
		t.Fatal("no error")
	}
}

// own is the test's set of files the tool writes.
func own(name string) bool { return name == "config.json" || name == "new" }

func TestDir(t *testing.T) {
	parent := t.TempDir()
	final := filepath.Join(parent, "sub", "model")
	var d *Dir
	var err error
	withUmask(t, func() {
		d, err = NewDir(final, false, own)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFileSync(filepath.Join(d.Path(), "config.json"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final folder visible before Commit: %v", err)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(final)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("final folder %v, %v; want mode 0755 under umask 022", fi, err)
	}
	if es := entries(t, filepath.Dir(final)); len(es) != 1 {
		t.Errorf("parent holds %v, want only model", es)
	}

	// A non-empty folder is refused without force, replaced with it.
	if _, err := NewDir(final, false, own); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing non-empty folder: err %v, want a --force hint", err)
	}
	d2, err := NewDir(final, true, own)
	if err != nil {
		t.Fatal(err)
	}
	WriteFileSync(filepath.Join(d2.Path(), "new"), nil)
	if err := d2.Commit(); err != nil {
		t.Fatal(err)
	}
	if es := entries(t, final); len(es) != 1 || es[0] != "new" {
		t.Errorf("replaced folder holds %v, want [new]", es)
	}
	if es := entries(t, filepath.Dir(final)); len(es) != 1 {
		t.Errorf("parent holds %v after replacement, want only model", es)
	}

	// A file at the final path is never replaced.
	file := filepath.Join(parent, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := NewDir(file, true, own); err == nil {
		t.Error("a file at the final path was accepted")
	}

	// Cleanup without Commit leaves nothing.
	d3, err := NewDir(filepath.Join(parent, "gone"), false, own)
	if err != nil {
		t.Fatal(err)
	}
	WriteFileSync(filepath.Join(d3.Path(), "partial"), []byte("x"))
	d3.Cleanup()
	for _, e := range entries(t, parent) {
		if strings.Contains(e, "gone") {
			t.Errorf("left behind: %s", e)
		}
	}
}

// TestDirForceKeepsForeignFiles: with force, a folder that holds a file the
// tool did not write (or a subfolder) is refused, and nothing in it changes.
func TestDirForceKeepsForeignFiles(t *testing.T) {
	final := filepath.Join(t.TempDir(), "model")
	os.Mkdir(final, 0o755)
	os.WriteFile(filepath.Join(final, "config.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(final, "notes.txt"), []byte("mine"), 0o644)
	_, err := NewDir(final, true, own)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("foreign file: %v", err)
	}
	os.Remove(filepath.Join(final, "notes.txt"))
	os.Mkdir(filepath.Join(final, "sub"), 0o755)
	if _, err := NewDir(final, true, own); !errors.Is(err, ErrExists) {
		t.Fatalf("subfolder: %v", err)
	}
	if es := entries(t, final); len(es) != 2 {
		t.Errorf("folder changed: %v", es)
	}
	if es := entries(t, filepath.Dir(final)); len(es) != 1 {
		t.Errorf("temporary folders left: %v", es)
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "m.gguf")
	if err := CheckFile(f, false); err != nil {
		t.Errorf("new path: %v", err)
	}
	os.WriteFile(f, nil, 0o644)
	if err := CheckFile(f, false); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing file without force: %v", err)
	}
	if err := CheckFile(f, true); err != nil {
		t.Errorf("existing file with force: %v", err)
	}
	if err := CheckFile(dir, true); !errors.Is(err, ErrExists) {
		t.Errorf("a folder at the path with force: %v", err)
	}
}
