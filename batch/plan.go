package batch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/model"
	"github.com/sambay-conv/sambay-conv/reference"
)

// A Plan is a job expanded into source groups and their tasks, in job-file
// order. A group is one source: its import to the canonical layout and every
// target made from it, run together (one read of the source, one lease);
// groups are the unit of sharding.
type Plan struct {
	Job    *Job     `json:"-"`
	Output string   `json:"output"`
	Groups []*Group `json:"groups"`
	Shards int      `json:"shards"`
}

// A Group is one source and its tasks.
type Group struct {
	Name       string   `json:"name"` // the {source} of the naming template: unique in the job
	Source     string   `json:"source"`
	Line       int      `json:"line"` // the job file line of its entry
	Kind       string   `json:"kind"`
	ModelName  string   `json:"model_name"` // the {name}: general.name of the outputs
	Size       string   `json:"size"`       // the {size}: general.size_label
	Params     int64    `json:"parameters"`
	Bytes      int64    `json:"canonical_bytes"` // tensor bytes of the canonical import
	Canonical  string   `json:"canonical"`       // the import's output folder
	Tasks      []*Task  `json:"tasks"`
	Cost       float64  `json:"cost"` // relative work, for balancing shards
	Shard      int      `json:"shard"`
	ConfigFrom string   `json:"config_from"`
	Warnings   []string `json:"warnings,omitempty"`

	entry  *Source
	config reference.Config
}

// A Task is one target of one source.
type Task struct {
	ID     string  `json:"id"` // group/target name: unique in the job
	Target Target  `json:"target"`
	Output string  `json:"output"` // file (GGUF) or folder (MLX)
	Bytes  int64   `json:"tensor_bytes"`
	BPW    float64 `json:"bits_per_weight"`
}

// stateDir is the folder under the output root that holds the job's
// records, leases and logs.
const stateDir = ".batch"

// RecordDir is the folder of group g's result records.
func (p *Plan) RecordDir(g *Group) string {
	return filepath.Join(p.Output, stateDir, "records", g.Name)
}

// leasePath is the lease of group g.
func (p *Plan) leasePath(g *Group) string {
	return filepath.Join(p.Output, stateDir, "locks", g.Name+".lease")
}

// MakePlan expands the job's sources (globs), decides every source's
// configuration (reading headers only), names every output and checks
// that no two tasks write the same path. Errors name the job file line.
func MakePlan(job *Job, shards int) (*Plan, error) {
	p := &Plan{Job: job, Output: job.Output, Shards: max(1, shards)}
	names := map[string]*Group{}
	outputs := map[string]string{}
	for i := range job.Sources {
		s := &job.Sources[i]
		paths, err := expand(s.Path)
		if err != nil {
			return nil, jobErr(job.File, s.Line, "%v", err)
		}
		if len(paths) > 1 && s.Name != "" {
			return nil, jobErr(job.File, s.Line, "name %q given to a pattern that matches %d sources", s.Name, len(paths))
		}
		for _, path := range paths {
			g, err := newGroup(job, s, path)
			if err != nil {
				return nil, err
			}
			if other, ok := names[g.Name]; ok {
				return nil, jobErr(job.File, s.Line, "sources %s (line %d) and %s both get the output name %q; give one a name", other.Source, other.Line, path, g.Name)
			}
			names[g.Name] = g
			if other, ok := outputs[g.Canonical]; ok {
				return nil, jobErr(job.File, s.Line, "the import of %s and task %s both write %s", path, other, g.Canonical)
			}
			outputs[g.Canonical] = g.Name + "/import"
			if err := g.plan(job, outputs); err != nil {
				return nil, err
			}
			p.Groups = append(p.Groups, g)
		}
	}
	p.assignShards()
	return p, nil
}

// expand returns the paths a source entry names: the path itself, or the
// sorted matches of a glob. No match is an error.
func expand(pattern string) ([]string, error) {
	if !hasMeta(pattern) {
		if _, err := os.Stat(pattern); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("source %s does not exist", pattern)
			}
			return nil, err
		}
		return []string{pattern}, nil
	}
	m, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("source pattern %q: %v", pattern, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("source pattern %s matches nothing", pattern)
	}
	sort.Strings(m)
	return m, nil
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

var unsafeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._+-]+`) })

// sourceName is a source's default folder name: for a glob match, its path
// below the pattern's fixed folder (runs/*/iter-*.pth matching
// runs/s1/iter-2.pth gives s1-iter-2); otherwise the base name, without a
// file extension.
func sourceName(pattern, path string) string {
	rel := filepath.Base(path)
	if hasMeta(pattern) {
		fixed := pattern
		for hasMeta(fixed) {
			fixed = filepath.Dir(fixed)
		}
		if r, err := filepath.Rel(fixed, path); err == nil && filepath.IsLocal(r) {
			rel = r
		}
	}
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		rel = strings.TrimSuffix(rel, filepath.Ext(rel))
	}
	n := strings.Trim(unsafeName().ReplaceAllString(filepath.ToSlash(rel), "-"), "-.")
	if n == "" {
		n = "source"
	}
	return n
}

// newGroup opens the source enough to decide its configuration.
func newGroup(job *Job, s *Source, path string) (*Group, error) {
	g := &Group{Name: s.Name, Source: path, Line: s.Line, entry: s}
	if g.Name == "" {
		g.Name = sourceName(s.Path, path)
	}
	if err := model.Require(path, model.ForImport); err != nil {
		return nil, jobErr(job.File, s.Line, "%v", err)
	}
	rep, err := model.Inspect(path, convert.ConfigOptions{Arch: s.Arch, ConfigFile: s.Config}, convert.SourceOptions{})
	if err != nil {
		return nil, jobErr(job.File, s.Line, "%v", err)
	}
	if rep.ConfigError != "" || rep.Config == nil {
		return nil, jobErr(job.File, s.Line, "%s: %s (give config: or arch: for this source)", path, rep.ConfigError)
	}
	g.Kind, g.config, g.ConfigFrom, g.Warnings = rep.Format, *rep.Config, rep.ConfigFrom, rep.Warnings
	g.Params = g.config.NumParams()
	g.Size = ggufmodel.SizeLabel(g.Params)
	g.ModelName = modelName(rep, g.Name)
	for _, t := range g.config.Tensors() {
		es := int64(2) // the import's bf16
		if t.KeepF32 {
			es = 4
		}
		n := int64(1)
		for _, d := range t.Shape {
			n *= d
		}
		g.Bytes += es * n
	}
	g.Canonical = filepath.Join(job.Output, g.Name, "canonical")
	return g, nil
}

// modelName is the {name} of a source: the ArchScale model_name its
// hyperparameters record, else the source's folder name.
func modelName(rep *model.InspectReport, fallback string) string {
	if n, ok := rep.Hparams["model_name"].(string); ok && n != "" {
		return strings.Trim(unsafeName().ReplaceAllString(n, "-"), "-.")
	}
	return fallback
}

// plan names the group's outputs and sizes them.
func (g *Group) plan(job *Job, outputs map[string]string) error {
	targets := job.Targets
	if g.entry.Targets != nil {
		targets = g.entry.Targets
	}
	g.Cost = float64(g.Bytes) // the import: read, convert, hash, write
	for _, t := range targets {
		task := &Task{ID: g.Name + "/" + t.Name(), Target: t}
		rel := strings.NewReplacer("{source}", g.Name, "{name}", g.ModelName, "{size}", g.Size, "{type}", t.Name()).Replace(job.Naming)
		task.Output = filepath.Join(job.Output, filepath.FromSlash(rel))
		if t.Format == "gguf" {
			task.Output += ".gguf"
		}
		if !filepath.IsLocal(mustRel(job.Output, task.Output)) {
			return jobErr(job.File, t.Line, "output %s of %s is outside the output root", task.Output, g.Source)
		}
		if other, ok := outputs[task.Output]; ok {
			return jobErr(job.File, t.Line, "tasks %s and %s both write %s (give a target a label:)", other, task.ID, task.Output)
		}
		outputs[task.Output] = task.ID
		if err := task.size(&g.config); err != nil {
			return jobErr(job.File, t.Line, "%s: %v", g.Source, err)
		}
		g.Cost += float64(g.Bytes) * t.weight()
		g.Tasks = append(g.Tasks, task)
	}
	return nil
}

func mustRel(base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil {
		return "../"
	}
	return r
}

// size fills the task's planned tensor bytes and bits per weight.
func (t *Task) size(cfg *reference.Config) error {
	switch t.Target.Format {
	case "gguf":
		o, err := t.Target.ggufOptions()
		if err != nil {
			return err
		}
		r, err := ggufmodel.Plan(cfg, o)
		if err != nil {
			return err
		}
		t.Bytes, t.BPW = r.TensorBytes, r.BitsPerWeight
	case "mlx":
		n, err := mlxmodel.PlanBytes(cfg, 2, t.Target.mlxOptions())
		if err != nil {
			return err
		}
		t.Bytes, t.BPW = n, 8*float64(n)/float64(cfg.NumParams())
	}
	return nil
}

func (t Target) mlxOptions() mlxmodel.Options {
	return mlxmodel.Options{Bits: t.Bits, GroupSize: t.GroupSize, Recipe: t.Recipe}
}

// weight is a target's work relative to the import of the same source, for
// balancing shards (fixed numbers, so that the assignment never depends on
// a measurement): the k-quant searches cost several times a plain rounding.
func (t Target) weight() float64 {
	if t.Format == "gguf" && (strings.Contains(t.Type, "_k") || strings.HasPrefix(t.Type, "q2") || strings.HasPrefix(t.Type, "q3")) {
		return 4
	}
	return 1
}

// assignShards balances groups over the shards by cost, largest first,
// each to the least loaded shard (ties: the lowest index; equal costs:
// name order). The assignment depends only on the plan, so a rerun of the
// same job file gives every group the same shard.
func (p *Plan) assignShards() {
	order := slices.Clone(p.Groups)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].Cost != order[j].Cost {
			return order[i].Cost > order[j].Cost
		}
		return order[i].Name < order[j].Name
	})
	load := make([]float64, p.Shards)
	for _, g := range order {
		best := 0
		for s := 1; s < p.Shards; s++ {
			if load[s] < load[best] {
				best = s
			}
		}
		g.Shard = best
		load[best] += g.Cost
	}
}

// InShard returns the groups of shard i.
func (p *Plan) InShard(i int) []*Group {
	var out []*Group
	for _, g := range p.Groups {
		if g.Shard == i {
			out = append(out, g)
		}
	}
	return out
}
