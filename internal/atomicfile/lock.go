package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrLocked reports an output another running process is writing.
var ErrLocked = errors.New("output locked")

// A Lock keeps other processes of this tool from writing the same output:
// a file ".NAME.lock" beside it, created with O_EXCL, holding the owner's
// PID and host name.
type Lock struct{ path string }

func lockName(final string) string {
	final = filepath.Clean(final)
	return filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".lock")
}

// Acquire takes the lock of the output final (its folder must exist). A
// lock whose owner is gone — same host, process not running — is stale and
// taken over; otherwise Acquire fails at once, naming the owner. Once the
// lock is held, temporary files and folders that killed runs left beside
// final are removed: no live writer can own them.
func Acquire(final string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(final)), 0o777); err != nil {
		return nil, err
	}
	p := lockName(final)
	host, _ := os.Hostname()
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			_, werr := fmt.Fprintf(f, "%d %s\n", os.Getpid(), host)
			cerr := f.Close()
			if werr != nil || cerr != nil {
				os.Remove(p)
				return nil, fmt.Errorf("%s: %v", p, errors.Join(werr, cerr))
			}
			removeLeftovers(final)
			return &Lock{path: p}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		b, _ := os.ReadFile(p)
		pid, owner, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		n, perr := strconv.Atoi(pid)
		if perr != nil || owner != host || alive(n) {
			return nil, fmt.Errorf("%w: %s is being written by process %s on %s (lock file %s; remove it if that process is gone)", ErrLocked, final, pid, owner, p)
		}
		os.Remove(p) // stale: its owner died (kill -9, power loss)
	}
	return nil, fmt.Errorf("%w: %s: could not take the lock %s", ErrLocked, final, p)
}

// Release removes the lock file.
func (l *Lock) Release() {
	if l != nil {
		os.Remove(l.path)
	}
}

// removeLeftovers deletes ".NAME.tmp-*" files and folders beside final.
func removeLeftovers(final string) {
	final = filepath.Clean(final)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(final), "."+globEscape(filepath.Base(final))+tempInfix+"*"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`)
	return r.Replace(s)
}

// Leftovers lists the temporary files and folders of killed runs in dir
// (for a clean-up command or a report).
func Leftovers(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".") && (strings.Contains(e.Name(), tempInfix) || strings.HasSuffix(e.Name(), ".lock")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}
