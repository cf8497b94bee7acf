//go:build unix

package sidefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	os.Mkdir(model, 0o755)
	os.WriteFile(filepath.Join(model, "config.json"), []byte("{}"), 0o644)
	outside := filepath.Join(dir, "secret")
	os.WriteFile(outside, []byte("secret"), 0o644)
	os.Symlink(outside, filepath.Join(model, "tokenizer.json"))
	os.Symlink("config.json", filepath.Join(model, "inside.json"))
	os.Symlink("/dev/zero", filepath.Join(model, "zero.json"))
	syscall.Mkfifo(filepath.Join(model, "fifo.json"), 0o644)
	os.Mkdir(filepath.Join(model, "dir.json"), 0o755)

	if b, err := Read(model, "config.json"); err != nil || string(b) != "{}" {
		t.Errorf("regular file: %q %v", b, err)
	}
	if b, err := Read(model, "inside.json"); err != nil || string(b) != "{}" {
		t.Errorf("link inside the folder: %q %v", b, err)
	}
	for name, want := range map[string]error{"tokenizer.json": ErrOutside, "zero.json": ErrOutside, "dir.json": ErrNotRegular,
		"fifo.json": ErrNotRegular, "missing.json": fs.ErrNotExist} {
		done := make(chan error, 1)
		go func() { _, err := Read(model, name); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", name, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: blocked", name)
		}
	}
	if _, err := ReadFile("/dev/zero"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("/dev/zero named by the user: %v", err)
	}
	big := filepath.Join(dir, "big.json")
	f, _ := os.Create(big)
	f.Truncate(MaxSize + 1)
	f.Close()
	if _, err := ReadFile(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the cap: %v", err)
	}
}
