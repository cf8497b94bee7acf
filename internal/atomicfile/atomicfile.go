// Package atomicfile writes files and folders that appear at their final
// path complete or not at all: everything is written under a unique
// temporary name in the destination folder, fsynced, and renamed into place
// (then the folder is fsynced), as google/renameio does and for the reason
// it gives: without the fsync before the rename, a crash can leave the final
// name pointing at an empty or partial file on ext4 and others.
//
// Modes follow the umask, as os.Create and os.Mkdir do: files 0666 and
// folders 0777 before it (0644 and 0755 under umask 022), so that a service
// user can read what another user wrote.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// tempInfix is in the name of every temporary file and folder this package
// creates (".NAME.tmp-RANDOM" beside the final NAME), so that leftovers of a
// killed process can be recognised.
const tempInfix = ".tmp-"

func tempName(final string) (string, error) {
	var rb [8]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+tempInfix+hex.EncodeToString(rb[:])), nil
}

// A File is a file being written under a temporary name beside its final
// path. Write through the embedded *os.File, then Commit; defer Cleanup.
type File struct {
	*os.File
	final string
	done  bool
}

// Create creates a temporary file for final in final's folder, which must
// exist.
func Create(final string) (*File, error) {
	final = filepath.Clean(final)
	for range 8 { // a name clash is all but impossible; retry a few times anyway
		name, err := tempName(final)
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &File{File: f, final: final}, nil
	}
	return nil, fmt.Errorf("%s: cannot create a temporary file beside it", final)
}

// Commit fsyncs and closes the file, renames it to its final path
// (replacing a file there) and fsyncs the folder.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("%s: committed twice", f.final)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), f.final); err != nil {
		return err
	}
	f.done = true
	return syncDir(filepath.Dir(f.final))
}

// Cleanup closes and removes the temporary file unless Commit succeeded.
// It is safe to defer right after Create.
func (f *File) Cleanup() {
	if !f.done {
		f.Close()
		os.Remove(f.Name())
	}
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// ErrExists reports an output that exists where replacing it was not asked
// for (the tool's one overwrite rule: --force replaces, and only the tool's
// own outputs).
var ErrExists = errors.New("output exists")

// CheckFile checks that a file may be written at path: nothing is there, or
// force is set and a regular file is (a folder or special file is never
// replaced by a file).
func CheckFile(path string, force bool) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s exists and is not a regular file; choose another output", ErrExists, path)
	}
	if !force {
		return fmt.Errorf("%w: %s exists (use --force to replace it)", ErrExists, path)
	}
	return nil
}

// A Dir is an output folder built under a temporary name beside its final
// path and renamed into place by Commit.
type Dir struct {
	final, tmp string
	done       bool
}

// NewDir creates a temporary folder for final, creating final's parent
// folders if needed. An existing final path is refused when it is not a
// folder, or when it is a non-empty folder and force is false. With force it
// is replaced at Commit, but only when ours reports every entry in it as a
// file the tool writes there: a folder holding anything else (a user's
// notes, a subfolder) is refused, never deleted.
func NewDir(final string, force bool, ours func(name string) bool) (*Dir, error) {
	final = filepath.Clean(final)
	if fi, err := os.Lstat(final); err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("%w: %s exists and is not a folder", ErrExists, final)
		}
		entries, err := os.ReadDir(final)
		if err != nil {
			return nil, err
		}
		if len(entries) > 0 && !force {
			return nil, fmt.Errorf("%w: %s exists and is not empty (use --force to replace it)", ErrExists, final)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || ours == nil || !ours(e.Name()) {
				return nil, fmt.Errorf("%w: %s holds %s, which sambay-conv did not write; --force replaces only the tool's own outputs (move it, or choose another folder)", ErrExists, final, e.Name())
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o777); err != nil {
		return nil, err
	}
	for range 8 {
		name, err := tempName(final)
		if err != nil {
			return nil, err
		}
		err = os.Mkdir(name, 0o777)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &Dir{final: final, tmp: name}, nil
	}
	return nil, fmt.Errorf("%s: cannot create a temporary folder beside it", final)
}

// Path returns the temporary folder to write into.
func (d *Dir) Path() string { return d.tmp }

// Final returns the final path.
func (d *Dir) Final() string { return d.final }

// Cleanup removes the temporary folder unless Commit succeeded.
func (d *Dir) Cleanup() {
	if !d.done {
		os.RemoveAll(d.tmp)
	}
}

// Commit fsyncs the temporary folder and renames it to the final path,
// replacing an existing folder there (moved aside first and removed after,
// so that a failed rename puts it back).
func (d *Dir) Commit() error {
	if err := syncDir(d.tmp); err != nil {
		return err
	}
	var old string
	if _, err := os.Stat(d.final); err == nil {
		if old, err = tempName(d.final); err != nil {
			return err
		}
		if err := os.Rename(d.final, old); err != nil {
			return err
		}
	}
	if err := os.Rename(d.tmp, d.final); err != nil {
		if old != "" {
			os.Rename(old, d.final)
		}
		return err
	}
	d.done = true
	if old != "" {
		os.RemoveAll(old)
	}
	return syncDir(filepath.Dir(d.final))
}

// WriteFileSync writes data to a new file at path and fsyncs it: for files
// inside a Dir's temporary folder, which becomes visible only as a whole.
func WriteFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
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

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot fsync a folder (EINVAL); the data itself was synced.
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("%s: fsync: %w", dir, err)
	}
	return nil
}
