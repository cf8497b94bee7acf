package atomicfile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// A Lease is a lock file that works across machines sharing a file system
// (the outputs of a cluster job): it names its owner (host, PID, a random
// token) and its holder refreshes its modification time every heartbeat.
// A lease is stale, and may be taken over, when its owner is a dead process
// on this host or when it has not been refreshed for the stale period (an
// owner on another host that was killed or lost its node).
//
// Taking over is safe against many takers at once: they go one at a time
// and remove only the file they judged stale (see takeOver). The owner's
// heartbeat checks that the file still holds its token and cancels the
// owner's context when it does not, so that at most one process goes on
// writing even if a lease that was only slow to be refreshed is taken over.
type Lease struct {
	path   string
	token  string
	cancel context.CancelCauseFunc
	stop   chan struct{}
	wg     sync.WaitGroup
}

// LeaseOwner is what a lease file holds.
type LeaseOwner struct {
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Token   string `json:"token"`
	Started string `json:"started"`
}

// ErrLeaseLost is the cause of a lease holder's context when another
// process took the lease over.
var ErrLeaseLost = errors.New("lease taken over by another process")

// LeaseOptions control AcquireLease.
type LeaseOptions struct {
	Heartbeat time.Duration // refresh period (default 10 s)
	Stale     time.Duration // age of the last refresh after which a lease on another host is stale (default 6 heartbeats)
	// Wait is how long to wait for a live lease to be released or go stale
	// (0: fail at once with ErrLocked). Poll is the wait's period (default 1 s).
	Wait, Poll time.Duration
}

func (o *LeaseOptions) defaults() {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.Stale <= 0 {
		o.Stale = 6 * o.Heartbeat
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
}

// AcquireLease takes the lease file path (its folder must exist) and returns
// it with a context derived from ctx that is cancelled if the lease is lost.
// Release the lease when done.
func AcquireLease(ctx context.Context, path string, o LeaseOptions) (*Lease, context.Context, error) {
	o.defaults()
	var rb [8]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	me := LeaseOwner{Host: host, PID: os.Getpid(), Token: hex.EncodeToString(rb[:]), Started: time.Now().UTC().Format(time.RFC3339)}
	content, _ := json.Marshal(me)
	deadline := time.Now().Add(o.Wait)
	for {
		err := createVia(path, path+".new-"+me.Token, string(content)+"\n")
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, nil, err
		}
		owner, raw, stale := leaseStale(path, host, o.Stale)
		if stale && takeOver(path, raw, o.Stale) {
			continue
		}
		if !time.Now().Before(deadline) {
			if stale {
				return nil, nil, fmt.Errorf("%w: %s is being taken over by another process (lock file %s.takeover)", ErrLocked, path, path)
			}
			return nil, nil, fmt.Errorf("%w: %s is held by process %d on %s since %s", ErrLocked, path, owner.PID, owner.Host, owner.Started)
		}
		select {
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		case <-time.After(o.Poll):
		}
	}
	lctx, cancel := context.WithCancelCause(ctx)
	l := &Lease{path: path, token: me.Token, cancel: cancel, stop: make(chan struct{})}
	l.wg.Add(1)
	go l.heartbeat(o.Heartbeat)
	return l, lctx, nil
}

// ReadLease returns the owner recorded in the lease file path.
func ReadLease(path string) (LeaseOwner, error) {
	var o LeaseOwner
	b, _, err := readOwnerFile(path)
	if err != nil {
		return o, err
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("%s: not a lease file: %w", path, err)
	}
	return o, nil
}

// leaseStale reads the lease at path and judges it: stale when unreadable
// and old (a lease is written whole before it is linked into place, so an
// unreadable one is not in the middle of being made), when its owner is a
// dead process on this host, or when its last refresh is older than stale.
// It returns the owner and the file's bytes, which a takeover compares.
func leaseStale(path, host string, stale time.Duration) (LeaseOwner, []byte, bool) {
	var owner LeaseOwner
	b, mtime, err := readOwnerFile(path)
	if mtime.IsZero() {
		return owner, nil, false // gone: the next create decides
	}
	old := time.Since(mtime) > stale
	if err != nil || json.Unmarshal(b, &owner) != nil {
		return LeaseOwner{}, b, old
	}
	if deadProcess(owner.Host, owner.PID, host) {
		return owner, b, true
	}
	return owner, b, old
}

func (l *Lease) heartbeat(every time.Duration) {
	defer l.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		o, err := ReadLease(l.path)
		if err != nil || o.Token != l.token {
			l.cancel(fmt.Errorf("%w: %s", ErrLeaseLost, l.path))
			return
		}
		now := time.Now()
		os.Chtimes(l.path, now, now)
	}
}

// Release stops the heartbeat and removes the lease file if it is still
// this holder's.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	close(l.stop)
	l.wg.Wait()
	if o, err := ReadLease(l.path); err == nil && o.Token == l.token {
		os.Remove(l.path)
	}
	l.cancel(nil)
}

// RemoveLock removes the lock file of the output final whatever its owner.
// Call it only while holding a lease that covers final, after taking that
// lease over from a dead holder: the lock the dead holder's writer left
// (possibly from another host, where Acquire cannot judge it) is then known
// to be stale.
func RemoveLock(final string) {
	os.Remove(lockName(final))
	RemoveLeftovers(final)
}
