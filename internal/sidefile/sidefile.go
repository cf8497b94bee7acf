// Package sidefile reads the small files that travel with a model's tensors
// — config.json, generation_config.json, the tokenizer files, the shard
// index, the manifest — as untrusted input: only regular files, within a
// size cap, opened so that a FIFO or a device never blocks, and, for files
// found in a model folder, never through a link that leads outside it (a
// tokenizer.json linked to /etc/shadow is refused, not copied into an
// output).
package sidefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/sambay-conv/sambay-conv/internal/mmap"
)

// MaxSize caps a side file: the largest real tokenizer.json files (200k
// vocabularies with merges) are tens of MB.
const MaxSize = 256 << 20

// Errors, wrapped with the path.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("larger than a side file can be")
	ErrOutside    = errors.New("a link that leads outside the model folder")
)

// Read reads dir/name, a file found in a model folder. A missing file gives
// an error that satisfies errors.Is(err, fs.ErrNotExist).
func Read(dir, name string) ([]byte, error) {
	p := filepath.Join(dir, name)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if _, named := err.(*fs.PathError); !named {
			err = fmt.Errorf("%s: %w", p, err) // a link loop names no file
		}
		return nil, err
	}
	if real != p {
		realDir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("%s: %w (%s)", p, ErrOutside, real)
		}
	}
	return ReadFile(p)
}

// ReadFile reads a file the user named: a regular file of at most MaxSize
// bytes, opened without blocking on a FIFO.
func ReadFile(path string) ([]byte, error) {
	f, err := mmap.OpenNoBlock(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%v)", path, ErrNotRegular, fi.Mode().Type())
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d", path, ErrTooLarge, fi.Size(), MaxSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxSize { // the file grew while it was read
		return nil, fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	return b, nil
}
