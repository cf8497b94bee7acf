package batch

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/model"
)

// A pending target of a group: to be made, checked and recorded.
type pending struct {
	task    *Task
	key     string
	record  string // the record's path
	rec     *Record
	err     error
	seconds float64   // the export's wall time
	end     time.Time // when the export ended
}

// readStats is what the shared read of one canonical model cost.
type readStats struct{ size, fetched, refetched, peak int64 }

// export makes every pending target of g at once from one read of its
// canonical model (a sharedReader holds each block until every export has
// read it). Each target's result or error is left in its pending; the
// error returned is the canonical model's own (it cannot be opened).
func (r *runner) export(ctx context.Context, g *Group, imp *imported, todo []*pending) (readStats, error) {
	cm, err := convert.OpenCanonical(g.Canonical)
	if err != nil {
		return readStats{}, err
	}
	defer cm.Close()
	// Every export reads every tensor once (the mlxmodel and ggufmodel
	// tests count it).
	sizes := map[string]int64{}
	once := map[string]int{}
	var st readStats
	for _, s := range cm.Config.Tensors() {
		if t, ok := cm.Model.Tensor(s.Name); ok {
			sizes[s.Name] = t.Size()
			st.size += t.Size()
		}
		once[s.Name] = 1
	}
	shared := newSharedReader(max(32<<20, r.plan.Job.Memory/8))
	// Every consumer is registered before any export starts: a block fetched
	// before a consumer exists would not be kept for it.
	consumers := make([]*consumer, len(todo))
	for i := range todo {
		consumers[i] = shared.consumer(once, sizes)
	}
	var wg sync.WaitGroup
	for i, p := range todo {
		c := consumers[i]
		view := *cm
		view.View = c.view
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			start := time.Now()
			p.rec, p.err = r.target(ctx, g, p.task, imp, &view)
			p.seconds, p.end = time.Since(start).Seconds(), time.Now()
		}()
	}
	wg.Wait()
	st.fetched, st.refetched, st.peak = shared.fetched, shared.refetched, shared.peak
	return st, nil
}

// target writes one output of the group from the canonical model cm.
func (r *runner) target(ctx context.Context, g *Group, t *Task, imp *imported, cm *convert.Canonical) (*Record, error) {
	rec := &Record{Task: t.ID, Status: "ok", Target: &t.Target, SourceDigest: imp.digest, Output: t.Output}
	if err := os.MkdirAll(filepath.Dir(t.Output), 0o777); err != nil {
		return nil, err
	}
	var progress func(done, total int64)
	if r.opts.Progress != nil {
		progress = func(done, total int64) { r.opts.Progress(t.ID, done, total) }
	}
	switch t.Target.Format {
	case "gguf":
		o, err := t.Target.ggufOptions()
		if err != nil {
			return nil, err
		}
		o.Output, o.Name, o.Force, o.Progress = t.Output, g.ModelName, true, progress
		res, err := ggufmodel.ExportFrom(ctx, cm, o)
		if err != nil {
			return nil, err
		}
		rec.TensorBytes, rec.BitsPerWeight = res.TensorBytes, res.BitsPerWeight
	case "mlx":
		o := t.Target.mlxOptions()
		o.Output, o.Force, o.Progress = t.Output, true, progress
		res, err := mlxmodel.ExportFrom(ctx, cm, o)
		if err != nil {
			return nil, err
		}
		rec.TensorBytes, rec.BitsPerWeight = res.TensorBytes, res.BitsPerWeight
	}
	return rec, nil
}

// check records the output's files (with sha256) and, when the job asks,
// compares the output with the canonical model base.
func (r *runner) check(rec *Record, g *Group, t *Task, base *model.Loaded) error {
	var err error
	if rec.Files, err = filesOf(r.plan.Output, t.Output, true); err != nil {
		return err
	}
	if base != nil {
		return r.verifyTarget(rec, g, t, base)
	}
	return nil
}
