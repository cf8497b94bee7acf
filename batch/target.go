package batch

import (
	"context"
	"os"
	"path/filepath"

	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/model"
)

// target makes one output of the group from its canonical import, records
// its files (with sha256) and, when the job asks, compares it with the
// import.
func (r *runner) target(ctx context.Context, g *Group, t *Task, imp *imported, base *model.Loaded) (*Record, error) {
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
		res, err := ggufmodel.Export(ctx, g.Canonical, o)
		if err != nil {
			return nil, err
		}
		rec.TensorBytes, rec.BitsPerWeight = res.TensorBytes, res.BitsPerWeight
	case "mlx":
		o := t.Target.mlxOptions()
		o.Output, o.Force, o.Progress = t.Output, true, progress
		res, err := mlxmodel.Export(ctx, g.Canonical, o)
		if err != nil {
			return nil, err
		}
		rec.TensorBytes, rec.BitsPerWeight = res.TensorBytes, res.BitsPerWeight
	}
	var err error
	if rec.Files, err = filesOf(r.plan.Output, t.Output, true); err != nil {
		return nil, err
	}
	if base != nil {
		if err := r.verifyTarget(rec, g, t, base); err != nil {
			return nil, err
		}
	}
	return rec, nil
}
