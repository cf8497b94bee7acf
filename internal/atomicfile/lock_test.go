//go:build unix

package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestLock(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	l, err := Acquire(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(out); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Errorf("second lock: %v", err)
	}
	l.Release()
	l2, err := Acquire(out)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()

	// A lock left by a process that is gone is stale and taken over, and the
	// leftovers of its run are removed.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` to make a finished process")
	}
	host, _ := os.Hostname()
	os.WriteFile(lockName(out), []byte(fmt.Sprintf("%d %s\n", cmd.Process.Pid, host)), 0o644)
	os.WriteFile(filepath.Join(dir, ".m.gguf.tmp-0123456789abcdef"), []byte("partial"), 0o644)
	os.Mkdir(filepath.Join(dir, ".m.gguf.tmp-fedcba9876543210"), 0o755)
	os.WriteFile(filepath.Join(dir, ".other.tmp-00"), nil, 0o644)
	l3, err := Acquire(out)
	if err != nil {
		t.Fatalf("stale lock: %v", err)
	}
	defer l3.Release()
	left, _ := Leftovers(dir)
	if len(left) != 2 { // the live lock and the other output's leftover
		t.Errorf("after taking over: %v", left)
	}
	// A lock of another host is never taken over.
	out2 := filepath.Join(dir, "x")
	os.WriteFile(lockName(out2), []byte("1 some-other-host\n"), 0o644)
	if _, err := Acquire(out2); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "some-other-host") {
		t.Errorf("foreign host's lock: %v", err)
	}
}

// TestLockOneTaker: many takers of one stale lock at once: exactly one
// gets it (the others find it live: this process), and a FIFO where the
// lock should be is judged without being opened.
func TestLockOneTaker(t *testing.T) {
	host, _ := os.Hostname()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` to make a finished process")
	}
	for round := range 200 {
		out := filepath.Join(t.TempDir(), "m.gguf")
		os.WriteFile(lockName(out), []byte(fmt.Sprintf("%d %s\n", cmd.Process.Pid, host)), 0o644)
		var got atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := Acquire(out); err == nil {
					got.Add(1)
				} else if !errors.Is(err, ErrLocked) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got.Load() != 1 {
			t.Fatalf("round %d: %d takers hold the lock", round, got.Load())
		}
	}

	out := filepath.Join(t.TempDir(), "f.gguf")
	if err := syscall.Mkfifo(lockName(out), 0o666); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Acquire(out); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLocked) {
			t.Errorf("FIFO lock: %v, want ErrLocked", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire blocked on a FIFO")
	}
}
