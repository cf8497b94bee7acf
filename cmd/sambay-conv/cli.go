package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/sambay-conv/sambay-conv/batch"
	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInternal    = 3   // a bug: a panic recovered at the top (never a usage error's 2)
	exitInterrupted = 130 // 128 + SIGINT, as shells report a command stopped by Ctrl-C
)

// errUsage marks a usage error (exit code 2).
var errUsage = errors.New("usage")

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitCode decides the process exit code from a command's error.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailure
}

// run executes the CLI with args (args[0] is the program name) and returns
// the exit code. Tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return guard(stderr, func() int { return runCommand(ctx, args, stdout, stderr) })
}

// guard runs f and turns a panic into exit code 3 with a one-line report
// and the stack in a crash log, so that a bug is never mistaken for a usage
// error (Go's own panic exit code is 2). Panics in other goroutines cannot be
// caught here; every parser turns bad input into errors, never panics.
func guard(stderr io.Writer, f func() int) (code int) {
	defer func() {
		if r := recover(); r != nil {
			log := filepath.Join(os.TempDir(), fmt.Sprintf("sambay-conv-crash-%d.log", os.Getpid()))
			where := "details in " + log
			if err := os.WriteFile(log, fmt.Appendf(nil, "sambay-conv %s: panic: %v\n\n%s", version(), r, debug.Stack()), 0o644); err != nil {
				where = "no crash log: " + err.Error()
			}
			fmt.Fprintf(stderr, "sambay-conv: internal error (a bug, please report it): %v; %s\n", r, where)
			code = exitInternal
		}
	}()
	return f()
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	jsonOut := false
	for _, a := range args[1:] {
		if a == "--json" || a == "-json" {
			jsonOut = true
		}
	}
	root := newApp(stdout, stderr)
	err := root.Run(ctx, helpFirst(args, root))
	if err != nil {
		if jsonOut {
			b, _ := json.Marshal(map[string]any{"error": err.Error(), "exit_code": exitCode(err)})
			fmt.Fprintln(stderr, string(b))
		} else {
			fmt.Fprintf(stderr, "sambay-conv: %v\n", err)
		}
	}
	return exitCode(err)
}

// helpFirst rewrites "CMD [SUB] ARGS… --help" to "CMD [SUB] --help":
// urfave/cli reads an argument before --help as a help topic and fails on
// it.
func helpFirst(args []string, root *cli.Command) []string {
	help := false
	var path []string
	cur := root
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == "--help" || a == "-h" {
			help = true
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		if sub := cur.Command(a); sub != nil {
			path, cur = append(path, a), sub
		}
	}
	if !help {
		return args
	}
	return append(append([]string{args[0]}, path...), "--help")
}

// version is the tool version with the VCS revision the binary was built
// from, when the build recorded one.
func version() string {
	v := convert.Version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += " (" + rev + modified + ")"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v += " module " + bi.Main.Version
	}
	return v + " " + bi.GoVersion
}

func newApp(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "sambay-conv",
		Version:   version(),
		Usage:     "import, inspect and convert SambaY models (Phi-4-mini-flash, ArchScale SambaY)",
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed and mapped to exit codes by run, never by os.Exit inside the library.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		OnUsageError: func(_ context.Context, _ *cli.Command, err error, _ bool) error {
			return usageError{err}
		},
		Commands: []*cli.Command{importCommand(), inspectCommand(), verifyCommand(), quantCommand(), pipelineCommand(), batchCommand(), generateCommand()},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() > 0 {
				return usagef("unknown command %q (see --help)", c.Args().First())
			}
			return cli.ShowRootCommandHelp(c)
		},
	}
}

// withUsage makes flag errors of a subcommand usage errors.
func withUsage(c *cli.Command) *cli.Command {
	c.OnUsageError = func(_ context.Context, _ *cli.Command, err error, _ bool) error { return usageError{err} }
	return c
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print one JSON object on stdout (errors as JSON on stderr)"}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// parseSize parses "5GB", "500MB", "2GiB", "1024" (bytes), as job files
// write sizes.
func parseSize(s string) (int64, error) { return batch.ParseSize(s) }

// isTerminal reports whether w is a terminal (progress bars only then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
