package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/urfave/cli/v3"

	"github.com/sambay-conv/sambay-conv/batch"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
)

func batchCommand() *cli.Command {
	shards := &cli.IntFlag{Name: "shards", Usage: "number of shards (with a Kubernetes Indexed Job: its completions; batch slurm: the array size)"}
	return withUsage(&cli.Command{
		Name:  "batch",
		Usage: "run a job file: every source imported once, every target made from it, resumable, sharded for clusters",
		Commands: []*cli.Command{
			withUsage(&cli.Command{
				Name:      "run",
				Usage:     "run the job (or one shard of it); tasks whose records are current are skipped",
				ArgsUsage: "JOBS.yaml\n\n   batch run JOBS.yaml\n   batch run JOBS.yaml --shard 2/8\n   batch run JOBS.yaml   (in a Slurm array task: the shard from SLURM_ARRAY_TASK_ID)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "shard", Usage: "run shard i of n (i/n, 0 ≤ i < n); default: from SLURM_ARRAY_TASK_* or JOB_COMPLETION_INDEX with --shards, else the whole job"},
					shards,
					&cli.BoolFlag{Name: "force", Usage: "redo every task, replacing its outputs"},
					&cli.BoolFlag{Name: "rehash", Usage: "check done outputs by their sha256, not only their size and modification time"},
					&cli.IntFlag{Name: "workers", Usage: "sources run at once (default: the job's workers, else from cores and the memory budget)"},
					&cli.BoolFlag{Name: "quiet", Usage: "print only failures"},
					&cli.BoolFlag{Name: "json", Usage: "one JSON object per task on stdout, then one for the summary"},
				},
				Action: batchRun,
			}),
			withUsage(&cli.Command{
				Name:      "plan",
				Usage:     "print the tasks, their shards, output sizes and estimated times; writes nothing",
				ArgsUsage: "JOBS.yaml",
				Flags:     []cli.Flag{shards, jsonFlag()},
				Action:    batchPlan,
			}),
			withUsage(&cli.Command{
				Name:      "merge",
				Usage:     "fold every result record under OUTROOT into batch-report.{md,json,html}",
				ArgsUsage: "OUTROOT",
				Flags:     []cli.Flag{jsonFlag()},
				Action:    batchMerge,
			}),
			withUsage(&cli.Command{
				Name:      "slurm",
				Usage:     "print a script that submits the job as a Slurm array and a merge job after it",
				ArgsUsage: "JOBS.yaml",
				Flags: []cli.Flag{shards,
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the script to FILE instead of stdout"},
					&cli.BoolFlag{Name: "force", Usage: "replace an existing script file"}},
				Action: batchSlurm,
			}),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() > 0 {
				return usagef("unknown batch command %q (run, plan, merge, slurm)", c.Args().First())
			}
			return cli.ShowSubcommandHelp(c)
		},
	})
}

// readPlan reads the job file argument and plans it for n shards.
func readPlan(c *cli.Command, n int) (*batch.Plan, error) {
	if c.Args().Len() != 1 {
		return nil, usagef("%s takes one JOBS.yaml argument, got %d", c.Name, c.Args().Len())
	}
	job, err := batch.ReadJob(c.Args().First())
	if err != nil {
		return nil, err
	}
	return batch.MakePlan(job, n)
}

// shardsFlag returns --shards, refusing 0 and negative counts.
func shardsFlag(c *cli.Command) (int, error) {
	if !c.IsSet("shards") {
		return 0, nil
	}
	n := int(c.Int("shards"))
	if n < 1 || n > 100000 {
		return 0, usagef("--shards %d: want 1 to 100000", n)
	}
	return n, nil
}

func batchRun(ctx context.Context, c *cli.Command) error {
	n, err := shardsFlag(c)
	if err != nil {
		return err
	}
	shard, from := 0, "the whole job"
	switch {
	case c.IsSet("shard"):
		if c.IsSet("shards") {
			return usagef("give --shard i/n or --shards n, not both")
		}
		if shard, n, err = batch.ParseShard(c.String("shard")); err != nil {
			return usagef("%v", err)
		}
		from = "--shard"
	default:
		i, m, src, ok, err := batch.ShardFromEnv(os.Getenv, n)
		if err != nil {
			return usagef("%v", err)
		}
		if ok {
			shard, n, from = i, m, src
		} else if n > 1 {
			return usagef("--shards %d without JOB_COMPLETION_INDEX: give --shard i/n", n)
		}
	}
	if c.IsSet("workers") && c.Int("workers") < 1 {
		return usagef("--workers %d: want at least 1", c.Int("workers"))
	}
	plan, err := readPlan(c, max(n, 1))
	if err != nil {
		return err
	}
	w, jsonOut, quiet := c.Root().Writer, c.Bool("json"), c.Bool("quiet")
	var mu sync.Mutex
	o := batch.RunOptions{Shard: shard, Force: c.Bool("force"), Rehash: c.Bool("rehash"), Workers: int(c.Int("workers")), ToolVersion: version(),
		Log: func(e batch.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case jsonOut:
				b, _ := json.Marshal(e)
				fmt.Fprintln(w, string(b))
			case quiet && e.Status != "failed":
			default:
				printEvent(w, plan, e)
			}
		}}
	bar := newProgress(c.Root().ErrWriter, quiet || jsonOut)
	if bar != nil {
		// One bar for the shard: the bytes written by all its tasks.
		var total int64
		for _, g := range plan.InShard(shard) {
			total += g.Bytes
			for _, t := range g.Tasks {
				total += t.Bytes
			}
		}
		var pm sync.Mutex
		done := map[string]int64{}
		var sum int64
		label := fmt.Sprintf("shard %d/%d", shard, plan.Shards)
		o.Progress = func(task string, d, _ int64) {
			pm.Lock()
			sum += d - done[task]
			done[task] = d
			n := sum
			pm.Unlock()
			bar.Stage(label, n, total)
		}
	}
	if !jsonOut && !quiet {
		fmt.Fprintf(w, "shard %d/%d (%s): %d of %d sources, output %s\n", shard, plan.Shards, from, len(plan.InShard(shard)), len(plan.Groups), plan.Output)
	}
	sum, err := batch.Run(ctx, plan, o)
	bar.Finish()
	if sum != nil {
		if jsonOut {
			b, _ := json.Marshal(map[string]any{"summary": true, "shard": sum.Shard, "shards": sum.Shards, "sources": sum.Groups,
				"done": sum.Done, "skipped": sum.Skipped, "failed": len(sum.Failed)})
			fmt.Fprintln(w, string(b))
		} else if !quiet {
			fmt.Fprintf(w, "shard %d/%d: %d done, %d skipped (current), %d failed\n", sum.Shard, sum.Shards, sum.Done, sum.Skipped, len(sum.Failed))
		}
	}
	return err
}

func printEvent(w io.Writer, p *batch.Plan, e batch.Event) {
	out := e.Output
	if r, err := filepath.Rel(p.Output, out); err == nil && filepath.IsLocal(r) {
		out = r
	}
	line := fmt.Sprintf("%-8s %-40s %s", e.Status, e.Task, out)
	if e.Seconds > 0 {
		line += fmt.Sprintf(" (%.1f s)", e.Seconds)
	}
	if e.Reason != "" {
		line += ": " + e.Reason
	}
	fmt.Fprintln(w, line)
}

func batchPlan(ctx context.Context, c *cli.Command) error {
	n, err := shardsFlag(c)
	if err != nil {
		return err
	}
	plan, err := readPlan(c, max(n, 1))
	if err != nil {
		return err
	}
	type row struct {
		Task      string  `json:"task"`
		Shard     int     `json:"shard"`
		Output    string  `json:"output"`
		Bytes     int64   `json:"bytes"`
		BPW       float64 `json:"bits_per_weight,omitempty"`
		Estimated float64 `json:"estimated_seconds"`
	}
	var rows []row
	var total float64
	for _, g := range plan.Groups {
		e := batch.ImportEstimate(g)
		rows = append(rows, row{g.Name + "/import", g.Shard, g.Canonical, g.Bytes, 0, e})
		total += e
		for _, t := range g.Tasks {
			e := batch.TaskEstimate(g, t)
			rows = append(rows, row{t.ID, g.Shard, t.Output, t.Bytes, t.BPW, e})
			total += e
		}
	}
	w := c.Root().Writer
	if c.Bool("json") {
		return printJSON(w, map[string]any{"plan": plan, "tasks": rows, "estimated_seconds": total})
	}
	for _, g := range plan.Groups {
		fmt.Fprintf(w, "source %s (job line %d): %s, %s, %d parameters, config from %s → %s\n", g.Name, g.Line, g.Source, g.Kind, g.Params, g.ConfigFrom, g.Canonical)
	}
	fmt.Fprintf(w, "%-44s %5s %12s %8s %9s  %s\n", "task", "shard", "bytes", "bits/w", "est. s", "output")
	for _, r := range rows {
		bpw := ""
		if r.BPW > 0 {
			bpw = fmt.Sprintf("%.3f", r.BPW)
		}
		out := r.Output
		if rel, err := filepath.Rel(plan.Output, out); err == nil {
			out = rel
		}
		fmt.Fprintf(w, "%-44s %5d %12d %8s %9.2f  %s\n", r.Task, r.Shard, r.Bytes, bpw, r.Estimated, out)
	}
	fmt.Fprintf(w, "%d sources, %d tasks in %d shard(s); estimated %.1f s of work on this machine (%.1f s per shard at most), not counting verification and disk\n",
		len(plan.Groups), len(rows), plan.Shards, total, batch.MaxShardEstimate(plan))
	return nil
}

func batchMerge(ctx context.Context, c *cli.Command) error {
	if c.Args().Len() != 1 {
		return usagef("merge takes one OUTROOT argument, got %d", c.Args().Len())
	}
	m, err := batch.Merge(c.Args().First())
	if m != nil {
		if c.Bool("json") {
			if perr := printJSON(c.Root().Writer, m); perr != nil {
				return perr
			}
		} else {
			w := c.Root().Writer
			fmt.Fprintf(w, "%d records, %d missing, %d failed\n", len(m.Records), len(m.Missing), len(m.Failed))
			for _, p := range m.Reports {
				fmt.Fprintf(w, "wrote %s\n", p)
			}
		}
	}
	return err
}

func batchSlurm(ctx context.Context, c *cli.Command) error {
	n, err := shardsFlag(c)
	if err != nil {
		return err
	}
	if c.Args().Len() != 1 {
		return usagef("slurm takes one JOBS.yaml argument, got %d", c.Args().Len())
	}
	job, err := batch.ReadJob(c.Args().First())
	if err != nil {
		return err
	}
	if n == 0 {
		n = job.Slurm.Shards
	}
	if n == 0 {
		p, err := batch.MakePlan(job, 1)
		if err != nil {
			return err
		}
		n = min(len(p.Groups), 64)
	}
	plan, err := batch.MakePlan(job, n)
	if err != nil {
		return err
	}
	script, err := batch.SlurmScript(plan, batch.Executable())
	if err != nil {
		return err
	}
	out := c.String("output")
	if out == "" {
		_, err = io.WriteString(c.Root().Writer, script)
		return err
	}
	if err := atomicfile.CheckFile(out, c.Bool("force")); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(out, []byte(script)); err != nil {
		return err
	}
	return os.Chmod(out, 0o755) // a script: executable, as sh would need no more than read
}
