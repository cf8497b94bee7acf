package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
	owner := fmt.Sprintf("%d %s\n", os.Getpid(), host)
	for attempt := 0; attempt < 4; attempt++ {
		err := create(p, owner)
		if err == nil {
			RemoveLeftovers(final)
			return &Lock{path: p}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		b, mtime, _ := readOwnerFile(p)
		if mtime.IsZero() {
			continue // released in between
		}
		f := strings.Fields(string(b))
		if len(f) != 2 || !deadOwner(b, host) {
			pid, who := "?", "?"
			if len(f) == 2 {
				pid, who = f[0], f[1]
			}
			return nil, fmt.Errorf("%w: %s is being written by process %s on %s (lock file %s; remove it if that process is gone)", ErrLocked, final, pid, who, p)
		}
		// Stale: its owner died (kill -9, power loss).
		if !takeOver(p, b, time.Minute) {
			return nil, fmt.Errorf("%w: %s: its stale lock %s is being taken over by another process", ErrLocked, final, p)
		}
	}
	return nil, fmt.Errorf("%w: %s: could not take the lock %s", ErrLocked, final, p)
}

// create makes the lock file p holding owner, failing with fs.ErrExist when
// it exists. The content is written to a file of its own first and linked
// into place, so that a lock file is never seen empty (a process killed
// between creating and writing it would leave a lock no one can judge);
// where the file system has no hard links, O_EXCL creation is used.
func create(p, owner string) error {
	return createVia(p, fmt.Sprintf("%s.%d", p, os.Getpid()), owner)
}

// createVia is create with the temporary file named tmp.
func createVia(p, tmp, owner string) error {
	if err := os.WriteFile(tmp, []byte(owner), 0o666); err != nil {
		return err
	}
	defer os.Remove(tmp)
	err := os.Link(tmp, p)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(owner)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(p)
	}
	return werr
}

// Release removes the lock file.
func (l *Lock) Release() {
	if l != nil {
		os.Remove(l.path)
	}
}

// RemoveLeftovers deletes ".NAME.tmp-*" files and folders beside final,
// and the ".NAME.lock.PID" files of dead processes. Call it only while
// holding final's lock, or a lock that covers it (Acquire does).
func RemoveLeftovers(final string) {
	final = filepath.Clean(final)
	base := filepath.Join(filepath.Dir(final), "."+globEscape(filepath.Base(final)))
	matches, _ := filepath.Glob(base + tempInfix + "*")
	for _, m := range matches {
		os.RemoveAll(m)
	}
	locks, _ := filepath.Glob(base + ".lock.*")
	for _, m := range locks {
		if pid, err := strconv.Atoi(m[strings.LastIndexByte(m, '.')+1:]); err == nil && pid != os.Getpid() && !alive(pid) {
			os.Remove(m)
		}
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
		if strings.HasPrefix(e.Name(), ".") && (strings.Contains(e.Name(), tempInfix) || strings.Contains(e.Name(), ".lock")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}
