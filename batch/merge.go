package batch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/report"
)

// planFile is the plan every shard writes (the same bytes from every
// shard: no times), so that merge knows which tasks to expect.
func (p *Plan) planFile() string { return filepath.Join(p.Output, stateDir, "plan.json") }

func (p *Plan) writePlan() error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(p.planFile(), append(b, '\n'))
}

// A Merged report is every record of a job's output root.
type Merged struct {
	Output    string    `json:"output"`
	Generated string    `json:"generated"`
	Records   []*Record `json:"records"`
	// Missing are the planned tasks with no record; Failed the records of
	// failed tasks.
	Missing []string  `json:"missing,omitempty"`
	Failed  []*Record `json:"failed,omitempty"`
	Reports []string  `json:"reports"`
}

// ErrIncomplete is returned by Merge when tasks are missing or failed
// (the report is written anyway).
var ErrIncomplete = errors.New("job incomplete")

// Merge collects the result records under the output root into one report
// (batch-report.md, .json, .html in root).
func Merge(root string) (*Merged, error) {
	m := &Merged{Output: root, Generated: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	var plan Plan
	b, err := os.ReadFile(filepath.Join(root, stateDir, "plan.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s/plan.json: not the output root of a batch run", root, stateDir)
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(root, stateDir, "plan.json"), err)
	}
	byTask := map[string]*Record{}
	files, err := filepath.Glob(filepath.Join(root, stateDir, "records", "*", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		r, err := readRecord(f)
		if err != nil {
			return nil, err
		}
		byTask[r.Task] = r
	}
	for _, g := range plan.Groups {
		ids := []string{g.Name + "/import"}
		for _, t := range g.Tasks {
			ids = append(ids, t.ID)
		}
		for _, id := range ids {
			r, ok := byTask[id]
			switch {
			case !ok:
				m.Missing = append(m.Missing, id)
			case r.Status != "ok":
				m.Failed = append(m.Failed, r)
			default:
				m.Records = append(m.Records, r)
			}
		}
	}
	for _, ext := range []string{".md", ".json", ".html"} {
		p := filepath.Join(root, "batch-report"+ext)
		m.Reports = append(m.Reports, p)
	}
	d := m.doc()
	for _, p := range m.Reports {
		if err := report.WriteFile(p, d, m); err != nil {
			return nil, err
		}
	}
	if len(m.Missing) > 0 || len(m.Failed) > 0 {
		return m, fmt.Errorf("%w: %d task(s) missing, %d failed (listed in %s)", ErrIncomplete, len(m.Missing), len(m.Failed), m.Reports[0])
	}
	return m, nil
}

func (m *Merged) doc() *report.Doc {
	d := &report.Doc{Title: "sambay-conv batch report"}
	add := func(b ...report.Block) { d.Blocks = append(d.Blocks, b...) }
	add(report.Heading{Level: 1, Text: "sambay-conv batch report"})
	var imports, targets int
	for _, r := range m.Records {
		if r.Target == nil {
			imports++
		} else {
			targets++
		}
	}
	add(report.Para(fmt.Sprintf("Output root `%s`, merged %s: %d sources imported, %d outputs, %d missing, %d failed.",
		m.Output, m.Generated, imports, targets, len(m.Missing), len(m.Failed))))
	plot := report.Plot{XLabel: "bits per weight", YLabel: "mean KL divergence vs the import (nats)", Connect: true, XTicks: true}
	t := report.Table{Head: []string{"source", "target", "output", "bytes", "bits/weight", "KL mean", "KL p99", "top-1", "logits NMSE", "seconds"},
		Right: []bool{false, false, false, true, true, true, true, true, true, true}}
	recs := append([]*Record(nil), m.Records...)
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Group != recs[j].Group {
			return recs[i].Group < recs[j].Group
		}
		return recs[i].BitsPerWeight < recs[j].BitsPerWeight
	})
	for _, r := range recs {
		var size int64
		for _, f := range r.Files {
			size += f.Size
		}
		kl, p99, top1, nmse := "—", "—", "—", "—"
		if p := r.Parity; p != nil {
			kl, p99, top1, nmse = fmt.Sprintf("%.4g", p.KLDMean), fmt.Sprintf("%.4g", p.KLDP99), fmt.Sprintf("%.2f%%", 100*p.Top1), fmt.Sprintf("%.3g", p.NMSE)
			if r.Target != nil {
				plot.Points = append(plot.Points, report.Point{X: r.BitsPerWeight, Y: p.KLDMean, Series: r.Group,
					Title: fmt.Sprintf("%s %s: %.3f bits/weight, KL mean %.4g", r.Group, r.Target.Name(), r.BitsPerWeight, p.KLDMean)})
			}
		}
		name, bpw := "import", "—"
		if r.Target != nil {
			name, bpw = r.Target.Name(), fmt.Sprintf("%.3f", r.BitsPerWeight)
		}
		t.Rows = append(t.Rows, []string{r.Group, name, "`" + r.Output + "`", fmt.Sprint(size), bpw, kl, p99, top1, nmse, fmt.Sprintf("%.1f", r.Seconds)})
	}
	if len(plot.Points) > 0 {
		add(report.Heading{Level: 2, Text: "KL divergence against bits per weight, one line per source"}, plot.SVG())
	}
	add(report.Heading{Level: 2, Text: "Outputs"}, t)
	if len(m.Missing) > 0 {
		l := report.List{}
		for _, id := range m.Missing {
			l = append(l, "`"+id+"`: no record (not run yet, or its shard was killed before finishing it)")
		}
		add(report.Heading{Level: 2, Text: "Missing tasks", Class: "fail"}, l)
	}
	if len(m.Failed) > 0 {
		l := report.List{}
		for _, r := range m.Failed {
			l = append(l, fmt.Sprintf("`%s`: %s", r.Task, r.Error))
		}
		add(report.Heading{Level: 2, Text: "Failed tasks", Class: "fail"}, l)
	}
	add(report.Heading{Level: 2, Text: "Legend"}, report.List{
		"**KL mean / p99**: Kullback–Leibler divergence of the output's next-token distribution from the canonical import's, over the verification tokens (fp32 Go reference forward pass of both); `—` when the job did not ask for verification.",
		"**top-1**: share of positions where both pick the same most likely token.",
		"**logits NMSE**: Σ(logit difference)² / Σ logit² over all positions.",
		"**bytes**: the output's files on disk; **seconds**: the task's wall time, verification included.",
	})
	return d
}
