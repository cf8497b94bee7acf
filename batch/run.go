package batch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/verify"
)

// RunOptions control Run.
type RunOptions struct {
	Shard       int  // the shard to run, 0 ≤ Shard < the plan's Shards
	Force       bool // redo every task, replacing outputs
	Rehash      bool // check recorded outputs by their sha256, not only size and time
	Workers     int  // groups at once (0: the job's, else from cores and the memory budget)
	ToolVersion string
	// Log receives one event per task (from several goroutines, one at a
	// time).
	Log func(Event)
	// Progress, when set, receives a task's bytes written so far and its
	// total; it must be safe for concurrent use.
	Progress func(task string, done, total int64)
	Lease    atomicfile.LeaseOptions // heartbeat and staleness of group leases (defaults: 10 s, 60 s; waits 24 h for a live holder)
}

// An Event is one line of the run's log.
type Event struct {
	Time    string  `json:"time"`
	Shard   int     `json:"shard"`
	Task    string  `json:"task"`
	Status  string  `json:"status"` // done, skipped, failed, waiting
	Reason  string  `json:"reason,omitempty"`
	Output  string  `json:"output,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
}

// A Summary counts what a run did.
type Summary struct {
	Shard, Shards int
	Groups        int
	Done, Skipped int
	Failed        []Event
	// SourceBytes is the size of the canonical models the targets were made
	// from, ReadBytes what was read of them (once per model when every
	// target shares one read), PeakHeld the most bytes of them held in
	// memory at once.
	SourceBytes, ReadBytes, PeakHeld int64
}

// ErrTasksFailed is returned by Run when some task failed (each has its
// record and event; the other tasks ran).
var ErrTasksFailed = errors.New("tasks failed")

// Run runs the groups of one shard of the plan: each group under its lease,
// tasks whose records are current skipped, the rest made and recorded.
func Run(ctx context.Context, p *Plan, o RunOptions) (*Summary, error) {
	if o.Shard < 0 || o.Shard >= p.Shards {
		return nil, fmt.Errorf("shard %d of %d: want 0 ≤ shard < %d", o.Shard, p.Shards, p.Shards)
	}
	if o.Lease.Wait == 0 {
		o.Lease.Wait = 24 * time.Hour
	}
	for _, d := range []string{"records", "locks"} {
		if err := os.MkdirAll(filepath.Join(p.Output, stateDir, d), 0o777); err != nil {
			return nil, err
		}
	}
	if err := p.writePlan(); err != nil {
		return nil, err
	}
	// The budget bounds the Go heap (the runtime collects harder near it);
	// what the shared readers hold is sized from it too.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(p.Job.Memory))
	groups := p.InShard(o.Shard)
	sum := &Summary{Shard: o.Shard, Shards: p.Shards, Groups: len(groups)}
	workers := o.Workers
	if workers <= 0 {
		workers = p.Job.Workers
	}
	if workers <= 0 {
		workers = autoWorkers(p.Job.Memory)
	}
	r := &runner{plan: p, opts: o, sum: sum}
	work := make(chan *Group)
	var wg sync.WaitGroup
	for range min(workers, max(1, len(groups))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				r.group(ctx, g)
			}
		}()
	}
	for _, g := range groups {
		work <- g
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	if len(sum.Failed) > 0 {
		return sum, fmt.Errorf("%w: %d of shard %d/%d", ErrTasksFailed, len(sum.Failed), o.Shard, p.Shards)
	}
	return sum, nil
}

// groupMemory is the budget one group in flight takes: the exporters'
// chunks in flight (4 MiB of output per encoding goroutine, with its float32
// rows) and the forward pass of a verification; the model's weights are
// read from the page cache, not held.
const groupMemory = 256 << 20

// autoWorkers runs as many groups at once as the cores and the memory
// budget allow (each exporter already uses every core, so two at most).
func autoWorkers(budget int64) int {
	return max(1, min(runtime.GOMAXPROCS(0)/2, int(budget/groupMemory), 2))
}

type runner struct {
	plan *Plan
	opts RunOptions
	mu   sync.Mutex
	sum  *Summary
}

func (r *runner) event(e Event) {
	e.Time = time.Now().UTC().Format(time.RFC3339)
	e.Shard = r.opts.Shard
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Status {
	case "done":
		r.sum.Done++
	case "skipped":
		r.sum.Skipped++
	case "failed":
		r.sum.Failed = append(r.sum.Failed, e)
	}
	if r.opts.Log != nil {
		r.opts.Log(e)
	}
}

// group runs one group under its lease.
func (r *runner) group(ctx context.Context, g *Group) {
	if ctx.Err() != nil {
		return
	}
	// Try once; when another live process holds the group, say so and wait
	// for it to finish or die.
	lo := r.opts.Lease
	wait := lo.Wait
	lo.Wait = 0
	lease, lctx, err := atomicfile.AcquireLease(ctx, r.plan.leasePath(g), lo)
	if errors.Is(err, atomicfile.ErrLocked) && wait > 0 {
		r.event(Event{Task: g.Name + "/*", Status: "waiting", Reason: err.Error()})
		lo.Wait = wait
		lease, lctx, err = atomicfile.AcquireLease(ctx, r.plan.leasePath(g), lo)
	}
	if err != nil {
		if ctx.Err() == nil {
			r.fail(g.Name+"/import", "", err)
		}
		return
	}
	defer lease.Release()
	// The lease covers the group's outputs: a lock their writer left (a
	// holder killed, maybe on another host) is stale.
	atomicfile.RemoveLock(g.Canonical)
	for _, t := range g.Tasks {
		atomicfile.RemoveLock(t.Output)
	}
	imp, err := r.importGroup(lctx, g)
	if err != nil {
		if lctx.Err() == nil {
			for _, t := range g.Tasks {
				rp := filepath.Join(r.plan.RecordDir(g), t.Target.Name()+".json")
				r.failRecord(rp, g, t.ID, t.Output, "", fmt.Errorf("the import of %s failed", g.Source))
			}
		}
		return
	}
	var todo []*pending
	for _, t := range g.Tasks {
		k := r.taskKey(imp, t)
		rp := filepath.Join(r.plan.RecordDir(g), t.Target.Name()+".json")
		if ok, why := r.current(rp, k, t.Output); ok {
			r.event(Event{Task: t.ID, Status: "skipped", Reason: why, Output: t.Output})
			continue
		} else if err := r.mayReplace(rp, t.Output); err != nil {
			r.fail(t.ID, t.Output, err)
			continue
		}
		todo = append(todo, &pending{task: t, key: k, record: rp})
	}
	if len(todo) == 0 {
		return
	}
	// Every target from one read of the canonical model, then each output
	// checked and recorded.
	stats, err := r.export(lctx, g, imp, todo)
	if lctx.Err() != nil {
		return
	}
	if err != nil {
		for _, p := range todo {
			r.failRecord(p.record, g, p.task.ID, p.task.Output, p.key, err)
		}
		return
	}
	r.mu.Lock()
	r.sum.SourceBytes += stats.size
	r.sum.ReadBytes += stats.fetched
	r.sum.PeakHeld = max(r.sum.PeakHeld, stats.peak)
	r.mu.Unlock()
	var base *model.Loaded
	if r.plan.Job.Verify.Against {
		if base, err = model.Open(g.Canonical, reference.Options{}); err != nil {
			for _, p := range todo {
				r.failRecord(p.record, g, p.task.ID, p.task.Output, p.key, err)
			}
			return
		}
		defer base.Close()
	}
	for _, p := range todo {
		if lctx.Err() != nil {
			return
		}
		t, rec := p.task, p.rec
		if p.err == nil {
			p.err = r.check(rec, g, t, base)
		}
		if p.err != nil {
			r.failRecord(p.record, g, t.ID, t.Output, p.key, p.err)
			continue
		}
		rec.Key, rec.Seconds = p.key, p.seconds+time.Since(p.end).Seconds()
		r.finish(rec, g)
		if err := writeRecord(p.record, rec); err != nil {
			r.fail(t.ID, t.Output, err)
			continue
		}
		if rec.Status == "failed" {
			r.event(Event{Task: t.ID, Status: "failed", Reason: rec.Error, Output: t.Output, Seconds: rec.Seconds})
			continue
		}
		r.event(Event{Task: t.ID, Status: "done", Output: t.Output, Seconds: rec.Seconds, Reason: describe(rec)})
	}
}

func describe(rec *Record) string {
	s := fmt.Sprintf("%.3f bits/weight", rec.BitsPerWeight)
	if p := rec.Parity; p != nil {
		s += fmt.Sprintf(", KL mean %.4g, top-1 %.1f%%", p.KLDMean, 100*p.Top1)
	}
	return s
}

func (r *runner) fail(task, output string, err error) {
	r.event(Event{Task: task, Status: "failed", Reason: err.Error(), Output: output})
}

// failRecord records a failed task (merge lists it with its error).
func (r *runner) failRecord(rp string, g *Group, task, output, k string, err error) {
	rec := &Record{Task: task, Key: k, Status: "failed", Error: err.Error(), Output: output}
	r.finish(rec, g)
	writeRecord(rp, rec)
	r.fail(task, output, err)
}

func (r *runner) finish(rec *Record, g *Group) {
	host, _ := os.Hostname()
	rec.Group, rec.Source, rec.Model, rec.Size, rec.Params = g.Name, g.Source, g.ModelName, g.Size, g.Params
	rec.Finished, rec.Host, rec.PID, rec.ToolVersion = time.Now().UTC().Format(time.RFC3339), host, os.Getpid(), r.opts.ToolVersion
	if rel, err := filepath.Rel(r.plan.Output, rec.Output); err == nil && filepath.IsLocal(rel) {
		rec.Output = rel
	}
}

// current reports whether the record at rp says the task with key k is
// done and its output is still as written.
func (r *runner) current(rp, k, output string) (bool, string) {
	if r.opts.Force {
		return false, ""
	}
	rec, err := readRecord(rp)
	if err != nil || rec == nil || rec.Status != "ok" || rec.Key != k {
		return false, ""
	}
	if ok, _ := sameFiles(r.plan.Output, output, rec.Files, r.opts.Rehash); !ok {
		return false, ""
	}
	if r.opts.Rehash {
		return true, "record current, output digests match"
	}
	return true, "record current, output unchanged"
}

// mayReplace refuses to replace an output the job did not write: one
// exists where no record (or a record of other files) says it is ours.
func (r *runner) mayReplace(rp, output string) error {
	if r.opts.Force {
		return nil
	}
	if _, err := os.Lstat(output); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	rec, _ := readRecord(rp)
	if rec != nil && len(rec.Files) > 0 {
		if ok, _ := sameFiles(r.plan.Output, output, rec.Files, false); ok {
			return nil
		}
	}
	return fmt.Errorf("%w: %s exists and this job's records do not say it wrote it (--force replaces it)", atomicfile.ErrExists, output)
}

// imported is what the import step leaves for the targets.
type imported struct {
	digest string // the source's content digest
}

// taskKey is a target's key: the source's content, the target, what is
// verified, the tool version.
func (r *runner) taskKey(imp *imported, t *Task) string {
	v := r.plan.Job.Verify
	vs := "none"
	if v.Against {
		vs = fmt.Sprintf("against:%d", v.Tokens)
		if v.MaxKLD != nil {
			vs += fmt.Sprintf(":max_kld=%g", *v.MaxKLD)
		}
	}
	return key("target", r.opts.ToolVersion, imp.digest, t.Target.Spec(), vs)
}

// sourceFiles lists the files of a source: the file, or a folder's files.
func sourceFiles(path string) ([]FileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		st, err := statFile(path)
		return []FileStat{st}, err
	}
	es, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []FileStat
	for _, e := range es {
		if e.Type().IsRegular() {
			st, err := statFile(filepath.Join(path, e.Name()))
			if err != nil {
				return nil, err
			}
			st.Name = e.Name()
			out = append(out, st)
		}
	}
	return out, nil
}

// importGroup imports the group's source to its canonical folder unless
// the import record is current: same source files (size and time), same
// settings, canonical files as written.
func (r *runner) importGroup(ctx context.Context, g *Group) (*imported, error) {
	id := g.Name + "/import"
	rp := filepath.Join(r.plan.RecordDir(g), "import.json")
	fail := func(err error) (*imported, error) {
		r.failRecord(rp, g, id, g.Canonical, "", err)
		return nil, err
	}
	src, err := sourceFiles(g.Source)
	if err != nil {
		return fail(err)
	}
	e := g.entry
	parts := []string{"import", r.opts.ToolVersion, g.Source, e.Arch, e.Config, e.Golden}
	for _, f := range src {
		parts = append(parts, fmt.Sprintf("%s %d %d", f.Name, f.Size, f.ModTime))
	}
	if e.Config != "" {
		st, err := statFile(e.Config)
		if err != nil {
			return fail(err)
		}
		parts = append(parts, fmt.Sprintf("config %d %d", st.Size, st.ModTime))
	}
	k := key(parts...)
	if ok, why := r.current(rp, k, g.Canonical); ok {
		rec, _ := readRecord(rp)
		r.event(Event{Task: id, Status: "skipped", Reason: why, Output: g.Canonical})
		return &imported{digest: rec.SourceDigest}, nil
	} else if err := r.mayReplace(rp, g.Canonical); err != nil {
		return fail(err)
	}
	start := time.Now()
	opts := convert.ImportOptions{Output: g.Canonical, Force: true,
		Config: convert.ConfigOptions{Arch: e.Arch, ConfigFile: e.Config}}
	if r.opts.Progress != nil {
		opts.Progress = func(done, total int64) { r.opts.Progress(id, done, total) }
	}
	res, err := convert.Import(ctx, g.Source, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return fail(err)
	}
	var digests []string
	for _, f := range res.Manifest.Source.Files {
		digests = append(digests, f.Name+":"+f.SHA256)
	}
	sort.Strings(digests)
	rec := &Record{Task: id, Key: k, Status: "ok", Output: g.Canonical, SourceFiles: src,
		SourceDigest: key(digests...), TensorBytes: res.Manifest.TotalSize}
	if e.Golden != "" {
		rep, err := verify.Run(ctx, verify.Options{Model: g.Canonical, Golden: e.Golden})
		if err != nil {
			return fail(err)
		}
		rec.Parity = parityOf(rep.Report, e.Golden)
		if err := rep.Report.Err(); err != nil {
			return fail(fmt.Errorf("the import does not match the golden %s: %w", e.Golden, err))
		}
	}
	if rec.Files, err = filesOf(r.plan.Output, g.Canonical, true); err != nil {
		return fail(err)
	}
	rec.Seconds = time.Since(start).Seconds()
	r.finish(rec, g)
	if err := writeRecord(rp, rec); err != nil {
		return fail(err)
	}
	r.event(Event{Task: id, Status: "done", Output: g.Canonical, Seconds: rec.Seconds})
	return &imported{digest: rec.SourceDigest}, nil
}

func parityOf(rep *verify.Report, against string) *Parity {
	return &Parity{Against: against, Verdict: rep.Verdict, Tokens: rep.Tokens, KLDMean: rep.KLDMean, KLDP99: rep.KLDP99,
		KLDMax: rep.KLDMax, Top1: rep.Top1Agreement, NMSE: rep.NMSE, MaxKLD: rep.MaxKLD}
}

// tokens are the ids a target is compared with its import on: a fixed
// pseudo-random sequence (the pipeline's, when it has no golden).
func tokens(n, vocab int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = (i*7919 + 13) % vocab
	}
	return out
}

// verifyTarget compares the output of t with the group's canonical model.
func (r *runner) verifyTarget(rec *Record, g *Group, t *Task, base *model.Loaded) error {
	v := r.plan.Job.Verify
	q, err := model.Open(t.Output, reference.Options{})
	if err != nil {
		return err
	}
	defer q.Close()
	tol := verify.ReportOnly
	rep, _, err := verify.AgainstModel(q.Model, base.Model, tokens(v.Tokens, base.Cfg.VocabSize), tol)
	if err != nil {
		return err
	}
	rec.Parity = parityOf(rep, "canonical")
	if v.MaxKLD != nil {
		rec.Parity.MaxKLD = *v.MaxKLD
		if !(rep.KLDMean <= *v.MaxKLD) {
			rec.Parity.Verdict = "FAIL"
			rec.Status, rec.Error = "failed", fmt.Sprintf("mean KL divergence %.4g exceeds max_kld %g", rep.KLDMean, *v.MaxKLD)
		} else {
			rec.Parity.Verdict = "PASS"
		}
	}
	return nil
}
