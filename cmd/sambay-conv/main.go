// Command sambay-conv imports, inspects and converts SambaY checkpoints
// (Phi-4-mini-flash and ArchScale SambaY models). main only wires signals
// and exit codes; every command is a thin layer over a package call.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// SAMBAY_CPUPROFILE=FILE writes a CPU profile of the command (go tool
	// pprof reads it): where a command's time goes, measured on the command
	// the user runs.
	if p := os.Getenv("SAMBAY_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
		}
	}
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	stop()
	os.Exit(code)
}
