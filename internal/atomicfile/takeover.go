package atomicfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxOwnerFile bounds what is read of a lock or lease file: both are one
// short line, and a larger file is not one of them.
const maxOwnerFile = 4096

// readOwnerFile reads the lock or lease file at path and its modification
// time, both from one open file: a file replaced between a stat and a read
// would otherwise be judged by the age of the one before it. Anything but a
// regular file is not opened (a FIFO would block the open) and returns its
// time, no content and an error.
func readOwnerFile(path string) ([]byte, time.Time, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fi.ModTime(), fmt.Errorf("%s: not a regular file (%v)", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, time.Time{}, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxOwnerFile))
	if err != nil {
		return nil, fi.ModTime(), err
	}
	return b, fi.ModTime(), nil
}

// takeOver removes the lock or lease file at path, judged stale while it
// held judged, unless it changed since. Takers go one at a time: each holds
// the takeover lock path+".takeover" ("PID HOST TOKEN"), and under it reads
// the file again and removes it only if it is still the one judged.
// Without that, a taker that judged a file stale could remove the fresh one
// that the taker before it had just made, and two processes would hold it.
//
// takeOver reports false when another taker holds the takeover lock (the
// caller waits or fails as for a live lock) and true when the caller should
// try again to create its file. A takeover lock whose owner is a dead
// process on this host, or older than staleAge (a takeover takes
// milliseconds), is itself removed.
func takeOver(path string, judged []byte, staleAge time.Duration) bool {
	var rb [8]byte
	rand.Read(rb[:])
	token := hex.EncodeToString(rb[:])
	host, _ := os.Hostname()
	mine := []byte(fmt.Sprintf("%d %s %s\n", os.Getpid(), host, token))
	lk := path + ".takeover"
	err := createVia(lk, lk+".new-"+token, string(mine))
	if errors.Is(err, fs.ErrExist) {
		b, mtime, _ := readOwnerFile(lk)
		if mtime.IsZero() {
			return true // gone in between
		}
		if time.Since(mtime) > staleAge || deadOwner(b, host) {
			removeIf(lk, b)
			return true
		}
		return false
	}
	if err != nil {
		return false
	}
	defer removeIf(lk, mine)
	cur, _, err := readOwnerFile(path)
	if errors.Is(err, fs.ErrNotExist) || !bytes.Equal(cur, judged) {
		return true // released, or replaced since it was judged
	}
	removeIf(path, judged)
	return true
}

// deadOwner reports whether the owner file content b ("PID HOST ...") names
// a process of this host that is not running.
func deadOwner(b []byte, host string) bool {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	return err == nil && deadProcess(f[1], pid, host)
}

// deadProcess reports whether process pid of owner host is one of this
// host that is not running (never this process).
func deadProcess(owner string, pid int, host string) bool {
	return owner == host && pid != os.Getpid() && !alive(pid)
}

// removeIf removes the file at path if it holds exactly want (nil: a file
// that cannot be read, or is not a regular file). The file is renamed
// aside first, so that what is compared is what is removed; a file that
// changed in between is linked back (Link fails if yet another appeared;
// a lease's owner then sees its file gone at its next heartbeat and stops).
func removeIf(path string, want []byte) {
	var rb [8]byte
	rand.Read(rb[:])
	aside := fmt.Sprintf("%s.takeover-%s", path, hex.EncodeToString(rb[:]))
	if os.Rename(path, aside) != nil {
		return // gone, or someone else moved it first
	}
	b, _, _ := readOwnerFile(aside)
	if !bytes.Equal(b, want) {
		os.Link(aside, path)
	}
	os.Remove(aside)
}
