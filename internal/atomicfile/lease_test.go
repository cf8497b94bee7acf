package atomicfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func writeLease(t *testing.T, p string, o LeaseOwner, age time.Duration) {
	t.Helper()
	b, _ := json.Marshal(o)
	if err := os.WriteFile(p, b, 0o666); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-age)
	os.Chtimes(p, old, old)
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot start a process:", err)
	}
	return cmd.Process.Pid
}

func TestLeaseStaleness(t *testing.T) {
	host, _ := os.Hostname()
	o := LeaseOptions{Heartbeat: time.Hour, Stale: time.Minute}
	for _, c := range []struct {
		name  string
		owner LeaseOwner
		age   time.Duration
		taken bool
	}{
		{"dead process on this host", LeaseOwner{Host: host, PID: deadPID(t), Token: "a"}, 0, true},
		{"live process on this host", LeaseOwner{Host: host, PID: os.Getppid(), Token: "a"}, 0, false},
		// Its PID may have been reused: the heartbeat decides.
		{"live PID on this host, not refreshed", LeaseOwner{Host: host, PID: os.Getppid(), Token: "a"}, 2 * time.Minute, true},
		{"fresh, another host", LeaseOwner{Host: host + "-other", PID: 1, Token: "a"}, 0, false},
		{"not refreshed, another host", LeaseOwner{Host: host + "-other", PID: 1, Token: "a"}, 2 * time.Minute, true},
	} {
		p := filepath.Join(t.TempDir(), "g.lease")
		writeLease(t, p, c.owner, c.age)
		l, ctx, err := AcquireLease(context.Background(), p, o)
		if c.taken != (err == nil) {
			t.Errorf("%s: taken %v, err %v", c.name, err == nil, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrLocked) {
				t.Errorf("%s: %v, want ErrLocked", c.name, err)
			}
			continue
		}
		if got, _ := ReadLease(p); got.PID != os.Getpid() || ctx.Err() != nil {
			t.Errorf("%s: lease holds %+v", c.name, got)
		}
		l.Release()
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: lease file left after Release", c.name)
		}
	}
}

// TestLeaseWaits: a waiter gets the lease once its holder releases it.
func TestLeaseWaits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.lease")
	l, _, err := AcquireLease(context.Background(), p, LeaseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(100 * time.Millisecond); l.Release() }()
	l2, _, err := AcquireLease(context.Background(), p, LeaseOptions{Wait: 10 * time.Second, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l2.Release()
}

// TestLeaseLost: a holder whose lease file was taken over sees its
// context cancelled with ErrLeaseLost, and its Release leaves the new
// holder's file alone.
func TestLeaseLost(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.lease")
	l, ctx, err := AcquireLease(context.Background(), p, LeaseOptions{Heartbeat: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	writeLease(t, p, LeaseOwner{Host: "elsewhere", PID: 1, Token: "other"}, 0)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the context was not cancelled")
	}
	if !errors.Is(context.Cause(ctx), ErrLeaseLost) {
		t.Errorf("cause %v", context.Cause(ctx))
	}
	l.Release()
	if o, err := ReadLease(p); err != nil || o.Token != "other" {
		t.Errorf("Release removed the new holder's lease: %+v, %v", o, err)
	}
}

// TestLeaseOneTaker: many goroutines taking over one stale lease at once:
// exactly one holds it at any time.
func TestLeaseOneTaker(t *testing.T) {
	for round := range 20 {
		p := filepath.Join(t.TempDir(), "g.lease")
		writeLease(t, p, LeaseOwner{Host: "gone", PID: 1, Token: "stale"}, time.Hour)
		var holders, maxHolders atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each goroutine poses as its own process: distinct tokens.
				l, _, err := AcquireLease(context.Background(), p, LeaseOptions{Stale: time.Minute, Wait: 20 * time.Second, Poll: time.Millisecond})
				if err != nil {
					t.Error(err)
					return
				}
				n := holders.Add(1)
				for {
					m := maxHolders.Load()
					if n <= m || maxHolders.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				holders.Add(-1)
				l.Release()
			}()
		}
		wg.Wait()
		if maxHolders.Load() != 1 {
			t.Fatalf("round %d: %d holders at once", round, maxHolders.Load())
		}
	}
}

// TestLeaseTakeoverLock: a stale lease is taken over only by the holder of
// its takeover lock; a takeover lock left by a dead taker is itself taken
// over, and nothing of either is left once the new holder releases.
func TestLeaseTakeoverLock(t *testing.T) {
	host, _ := os.Hostname()
	dir := t.TempDir()
	p := filepath.Join(dir, "g.lease")
	o := LeaseOptions{Stale: time.Minute}
	writeLease(t, p, LeaseOwner{Host: "gone", PID: 1, Token: "stale"}, time.Hour)
	os.WriteFile(p+".takeover", []byte("1 "+host+"-other 0123\n"), 0o666)
	if _, _, err := AcquireLease(context.Background(), p, o); !errors.Is(err, ErrLocked) {
		t.Fatalf("with a live taker: %v, want ErrLocked", err)
	}
	if got, _ := ReadLease(p); got.Token != "stale" {
		t.Fatalf("the lease was touched while another held its takeover lock: %+v", got)
	}
	os.WriteFile(p+".takeover", []byte(fmt.Sprintf("%d %s 0123\n", deadPID(t), host)), 0o666)
	l, _, err := AcquireLease(context.Background(), p, o)
	if err != nil {
		t.Fatalf("with a dead taker: %v", err)
	}
	if got, _ := ReadLease(p); got.PID != os.Getpid() {
		t.Errorf("lease holds %+v", got)
	}
	l.Release()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
