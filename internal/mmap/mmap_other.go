//go:build !unix

package mmap

import (
	"io"
	"os"
)

func mapFile(f *os.File, size int) ([]byte, bool, error) {
	b := make([]byte, size)
	_, err := io.ReadFull(f, b)
	return b, false, err
}

func unmap(b []byte) error { return nil }

// OpenNoBlock opens for reading (no FIFO semantics to avoid off unix).
func OpenNoBlock(name string) (*os.File, error) { return os.Open(name) }
