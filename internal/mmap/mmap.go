// Package mmap maps whole files read-only into memory. On systems without
// mmap it reads the file instead, so callers see the same []byte either way.
package mmap

import (
	"fmt"
	"os"
)

// A Map is a read-only view of a file's bytes. Data must not be used after
// Close.
type Map struct {
	Data   []byte
	f      *os.File
	mapped bool
}

// OpenFile opens a regular file for reading and returns it with its size.
func OpenFile(name string) (*os.File, int64, error) {
	f, err := OpenNoBlock(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", name)
	}
	return f, fi.Size(), nil
}

// Open maps the named file. The file stays open until Close.
func Open(name string) (*Map, error) {
	f, size, err := OpenFile(name)
	if err != nil {
		return nil, err
	}
	if size != int64(int(size)) {
		f.Close()
		return nil, fmt.Errorf("%s: file too large to map", name)
	}
	m := &Map{f: f}
	if size == 0 {
		return m, nil
	}
	data, mapped, err := mapFile(f, int(size))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m.Data, m.mapped = data, mapped
	return m, nil
}

// File returns the underlying open file.
func (m *Map) File() *os.File { return m.f }

// Close unmaps the data and closes the file.
func (m *Map) Close() error {
	var err error
	if m.mapped {
		err = unmap(m.Data)
	}
	m.Data = nil
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	return err
}
