//go:build unix

package atomicfile

import (
	"errors"
	"syscall"
)

// alive reports whether process pid is running on this host (signal 0
// checks existence; EPERM means it exists under another user).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
