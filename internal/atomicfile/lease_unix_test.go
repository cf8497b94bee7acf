//go:build unix

package atomicfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestLeaseNotAFile: a FIFO where the lease should be is judged, not
// opened (opening it would block): fresh, it holds the lease against
// others; old, it is taken over like an unreadable lease.
func TestLeaseNotAFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.lease")
	if err := syscall.Mkfifo(p, 0o666); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := AcquireLease(context.Background(), p, LeaseOptions{Stale: time.Minute})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("fresh FIFO: %v, want ErrLocked", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AcquireLease blocked on a FIFO")
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	go func() {
		l, _, err := AcquireLease(context.Background(), p, LeaseOptions{Stale: time.Minute})
		l.Release()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("old FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AcquireLease blocked on a FIFO")
	}
}
