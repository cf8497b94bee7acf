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

func openNoBlock(name string) (*os.File, error) { return os.Open(name) }
