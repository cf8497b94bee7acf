package mmap

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	want := []byte("sambay-conv maps this")
	os.WriteFile(p, want, 0o644)
	m, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Data, want) {
		t.Errorf("mapped %q", m.Data)
	}
	if err := m.Close(); err != nil {
		t.Error(err)
	}
	e := filepath.Join(dir, "empty")
	os.WriteFile(e, nil, 0o644)
	m, err = Open(e)
	if err != nil || len(m.Data) != 0 {
		t.Fatalf("empty file: %v", err)
	}
	m.Close()
	if _, err := Open(dir); err == nil {
		t.Error("a folder was mapped")
	}
}
