package convert

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// A pendingDir is an output folder built under a temporary name in the
// destination's parent folder and renamed into place by Commit, so a crash
// or an error never leaves a partial output at the final path.
type pendingDir struct {
	final, tmp string
	done       bool
}

func newPendingDir(final string, force bool) (*pendingDir, error) {
	final = filepath.Clean(final)
	if fi, err := os.Stat(final); err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s exists and is not a folder", final)
		}
		if !force {
			entries, _ := os.ReadDir(final)
			if len(entries) > 0 {
				return nil, fmt.Errorf("%s exists and is not empty (use --force to replace it)", final)
			}
		}
	}
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(final)+".tmp-")
	if err != nil {
		return nil, err
	}
	return &pendingDir{final: final, tmp: tmp}, nil
}

// Cleanup removes the temporary folder unless Commit succeeded.
func (p *pendingDir) Cleanup() {
	if !p.done {
		os.RemoveAll(p.tmp)
	}
}

// Commit syncs the temporary folder and renames it to the final path,
// replacing an existing folder there.
func (p *pendingDir) Commit() error {
	if d, err := os.Open(p.tmp); err == nil {
		d.Sync()
		d.Close()
	}
	var old string
	if _, err := os.Stat(p.final); err == nil {
		var rb [6]byte
		rand.Read(rb[:])
		old = filepath.Join(filepath.Dir(p.final), "."+filepath.Base(p.final)+".old-"+hex.EncodeToString(rb[:]))
		if err := os.Rename(p.final, old); err != nil {
			return err
		}
	}
	if err := os.Rename(p.tmp, p.final); err != nil {
		if old != "" {
			os.Rename(old, p.final)
		}
		return err
	}
	p.done = true
	if old != "" {
		os.RemoveAll(old)
	}
	if d, err := os.Open(filepath.Dir(p.final)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// writeFileSync writes data to path and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
