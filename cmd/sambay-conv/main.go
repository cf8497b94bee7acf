// Command sambay-conv imports, inspects and converts SambaY checkpoints
// (Phi-4-mini-flash and ArchScale SambaY models). main only wires signals
// and exit codes; every command is a thin layer over a package call.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
