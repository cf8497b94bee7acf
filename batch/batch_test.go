package batch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
)

const tiny = "../testdata/sambay-tiny"

// sweep makes n copies of the tiny ArchScale checkpoint as a training
// run's folders (runs/sK/iter-001-ckpt.pth) with its config, and a job file
// over them; it returns the job file's path.
func sweep(t *testing.T, n int, job string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(tiny, "archscale-head.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		d := filepath.Join(dir, "runs", "s"+string(rune('1'+i)))
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "iter-001-ckpt.pth"), src, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(tiny, "litgpt-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o666); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "jobs.yaml")
	if err := os.WriteFile(p, []byte(job), 0o666); err != nil {
		t.Fatal(err)
	}
	return p
}

const sweepJob = `output: out
sources:
  - path: runs/*/iter-*-ckpt.pth
    config: config.json
targets:
  - gguf: q8_0
  - gguf: q4_k_m
  - mlx: 4
verify:
  against: true
  tokens: 8
`

func TestParseJobErrors(t *testing.T) {
	for _, c := range []struct{ job, want string }{
		{"", "is empty"},
		{"output: o\nsources: [a]\ntargets: [{gguf: q8_0}]\nextra: 1\n", "jobs.yaml:4: unknown key \"extra\""},
		{"output: o\noutput: p\nsources: [a]\n", "jobs.yaml:2: key \"output\" appears twice"},
		{"sources: [a]\ntargets: [{gguf: q8_0}]\n", "needs \"output\""},
		{"output: o\nsources: [a]\ntargets:\n  - gguf: q9_9\n", "jobs.yaml:4: gguf target"},
		{"output: o\nsources: [a]\ntargets:\n  - gguf: q5_k\n", "jobs.yaml:4: gguf target"}, // a type, not a mix, without pure
		{"output: o\nsources: [a]\ntargets:\n  - {gguf: q8_0, mlx: 4}\n", "not both"},
		{"output: o\nsources: [a]\ntargets:\n  - mlx: 7\n", "jobs.yaml:4: mlx target"},
		{"output: o\nsources: [a]\ntargets:\n  - mlx: mixed_9\n", "want bits"},
		{"output: o\nsources: [a]\ntargets:\n  - {mlx: 4, group_size: 48}\n", "group size 48"},
		{"output: o\nsources: [a]\ntargets:\n  - {gguf: q8_0, tensor_type: [\"(=q4_0\"]}\n", "jobs.yaml:4"},
		{"output: o\nsources: [a]\ntargets:\n  - gguf: q8_0\n  - gguf: q8_0\n", "jobs.yaml:5: target gguf:Q8_0 is listed twice (first at line 4)"},
		{"output: o\nsources: [a]\n", "has no targets"},
		{"output: o\nworkers: 0\nsources: [a]\ntargets: [{gguf: q8_0}]\n", "jobs.yaml:2: want a whole number from 1"},
		{"output: o\nmemory: -1GB\nsources: [a]\ntargets: [{gguf: q8_0}]\n", "jobs.yaml:2: bad size"},
		{"output: o\nverify: {max_kld: .nan}\nsources: [a]\ntargets: [{gguf: q8_0}]\n", "jobs.yaml:2: want a finite number"},
		{"output: o\nverify: {max_kld: .inf}\nsources: [a]\ntargets: [{gguf: q8_0}]\n", "want a finite number"},
		{"output: o\nverify: {against: yes please}\nsources: [a]\ntargets: [{gguf: q8_0}]\n", "want true or false"},
		{"output: o\nnaming: \"{source}/{model}\"\nsources: [a]\ntargets: [{gguf: q8_0}]\n", "unknown placeholder {model}"},
		{"output: o\nnaming: \"{type}\"\nsources: [a]\ntargets: [{gguf: q8_0}]\n", "must contain {source}"},
		{"output: o\nnaming: \"../{source}-{type}\"\nsources: [a]\ntargets: [{gguf: q8_0}]\n", "inside the output root"},
		{"output: o\nsources: [{path: a, name: ../x}]\ntargets: [{gguf: q8_0}]\n", "plain folder name"},
		{"output: o\nsources: &a [x]\ntargets: *a\n", "aliases"},
		{"output: o\nsources: [a]\ntargets: [{gguf: q8_0}]\n---\noutput: p\n", "one document"},
		{"{\"output\": \"o\", \"sources\": [\"a\"], \"targets\": [{\"gguf\": \"q8_0\", \"pure\": 1}]}", "jobs.yaml:1: want true or false"},
	} {
		_, err := ParseJob("jobs.yaml", []byte(c.job))
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrJob) {
			t.Errorf("job %q: got %v, want an ErrJob containing %q", c.job, err, c.want)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	for _, c := range []struct{ job, want string }{
		{"output: out\nsources:\n  - runs/nothing-*.pth\ntargets: [{gguf: q8_0}]\n", "jobs.yaml:3: source pattern"},
		{"output: out\nsources:\n  - missing.pth\ntargets: [{gguf: q8_0}]\n", "jobs.yaml:3: source"},
		{"output: out\nsources:\n  - path: runs/*/iter-*-ckpt.pth\n", "has no targets"},
		// Without its config the ArchScale checkpoint's shape cannot be decided.
		{"output: out\nsources:\n  - runs/s1/iter-001-ckpt.pth\ntargets: [{gguf: q8_0}]\n", "jobs.yaml:3:"},
		{"output: out\nsources:\n  - {path: runs/s1/iter-001-ckpt.pth, config: config.json, name: a}\n  - {path: runs/s2/iter-001-ckpt.pth, config: config.json, name: a}\ntargets: [{gguf: q8_0}]\n",
			"jobs.yaml:4: sources"},
		{"output: out\nsources:\n  - {path: runs/*/iter-*-ckpt.pth, config: config.json, name: a}\ntargets: [{gguf: q8_0}]\n", "matches 2 sources"},
		{"output: out\nnaming: \"{source}/x-{type}\"\nsources:\n  - {path: runs/*/iter-*-ckpt.pth, config: config.json}\ntargets:\n  - gguf: q8_0\n  - {gguf: q8_0, pure: true}\n",
			"jobs.yaml:7: tasks s1-iter-001-ckpt/Q8_0 and s1-iter-001-ckpt/Q8_0 both write"},
		{"output: out\nnaming: \"{source}/{type}\"\nsources:\n  - {path: runs/*/iter-*-ckpt.pth, config: config.json}\ntargets:\n  - {mlx: 4, label: canonical}\n",
			"jobs.yaml:6: tasks s1-iter-001-ckpt/import and s1-iter-001-ckpt/canonical both write"},
	} {
		p := sweep(t, 2, c.job)
		job, err := ReadJob(p)
		if err == nil {
			_, err = MakePlan(job, 1)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("job %q: got %v, want an error containing %q", c.job, err, c.want)
		}
	}
}

func TestPlanNamesAndShards(t *testing.T) {
	p := sweep(t, 5, sweepJob)
	job, err := ReadJob(p)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := MakePlan(job, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Groups) != 5 {
		t.Fatalf("%d groups, want 5", len(plan.Groups))
	}
	g := plan.Groups[0]
	if g.Name != "s1-iter-001-ckpt" || g.ModelName == "" || g.Size != "116K" {
		t.Errorf("group 0: name %q, model %q, size %q", g.Name, g.ModelName, g.Size)
	}
	want := filepath.Join(job.Output, "s1-iter-001-ckpt", g.ModelName+"-116K-Q4_K_M.gguf")
	if g.Tasks[1].Output != want {
		t.Errorf("output %s, want %s", g.Tasks[1].Output, want)
	}
	// Equal costs: name order, one per shard in turn; the same every time.
	var shards []int
	for _, g := range plan.Groups {
		shards = append(shards, g.Shard)
	}
	if !slices.Equal(shards, []int{0, 1, 2, 0, 1}) {
		t.Errorf("shards %v, want [0 1 2 0 1]", shards)
	}
	again, _ := MakePlan(job, 3)
	for i := range again.Groups {
		if again.Groups[i].Shard != plan.Groups[i].Shard {
			t.Errorf("group %s: shard %d, then %d", plan.Groups[i].Name, plan.Groups[i].Shard, again.Groups[i].Shard)
		}
	}
}

// TestShardBalance: groups of unequal cost are spread so that no shard
// carries more than the lightest one plus the largest group.
func TestShardBalance(t *testing.T) {
	p := &Plan{Shards: 3}
	costs := []float64{9, 1, 7, 3, 3, 8, 2, 5}
	for i, c := range costs {
		p.Groups = append(p.Groups, &Group{Name: string(rune('a' + i)), Cost: c})
	}
	p.assignShards()
	load := make([]float64, 3)
	for _, g := range p.Groups {
		load[g.Shard] += g.Cost
	}
	lo, hi := min(load[0], load[1], load[2]), max(load[0], load[1], load[2])
	if hi-lo > 9 || hi > 14 {
		t.Errorf("loads %v: unbalanced", load)
	}
}

func TestShardFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		env    func(string) string
		shards int
		i, n   int
		ok     bool
		err    string
	}{
		{env(), 0, 0, 0, false, ""},
		{env("SLURM_ARRAY_TASK_ID", "2", "SLURM_ARRAY_TASK_COUNT", "3", "SLURM_ARRAY_TASK_MIN", "0"), 0, 2, 3, true, ""},
		{env("SLURM_ARRAY_TASK_ID", "11", "SLURM_ARRAY_TASK_COUNT", "4", "SLURM_ARRAY_TASK_MIN", "10"), 0, 1, 4, true, ""},
		{env("SLURM_ARRAY_TASK_ID", "14", "SLURM_ARRAY_TASK_COUNT", "4", "SLURM_ARRAY_TASK_MIN", "10"), 0, 0, 0, false, "not in the array"},
		{env("SLURM_ARRAY_TASK_ID", "x", "SLURM_ARRAY_TASK_COUNT", "4"), 0, 0, 0, false, "whole number"},
		{env("SLURM_ARRAY_TASK_ID", "1"), 0, 0, 0, false, "SLURM_ARRAY_TASK_COUNT"},
		{env("JOB_COMPLETION_INDEX", "3"), 4, 3, 4, true, ""},
		{env("JOB_COMPLETION_INDEX", "3"), 0, 0, 0, false, "--shards"},
		{env("JOB_COMPLETION_INDEX", "4"), 4, 0, 0, false, "not below"},
	} {
		i, n, _, ok, err := ShardFromEnv(c.env, c.shards)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("got %v, want an error containing %q", err, c.err)
			}
			continue
		}
		if err != nil || ok != c.ok || i != c.i || n != c.n {
			t.Errorf("got %d/%d ok=%v err=%v, want %d/%d ok=%v", i, n, ok, err, c.i, c.n, c.ok)
		}
	}
	for _, s := range []string{"", "1", "3/3", "-1/3", "a/b", "0/0", "1/2/3"} {
		if _, _, err := ParseShard(s); err == nil {
			t.Errorf("ParseShard(%q) accepted", s)
		}
	}
}

func runJob(t *testing.T, p string, shards, shard int, o RunOptions) (*Plan, *Summary, error) {
	t.Helper()
	job, err := ReadJob(p)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := MakePlan(job, shards)
	if err != nil {
		t.Fatal(err)
	}
	o.Shard, o.ToolVersion = shard, "test"
	sum, err := Run(context.Background(), plan, o)
	return plan, sum, err
}

// TestRunResumable runs a sweep, checks that every output is what the
// separate commands make, then that a rerun skips everything, that a
// changed output is redone alone, and that a file the job did not write is
// never replaced without Force.
func TestRunResumable(t *testing.T) {
	p := sweep(t, 2, sweepJob)
	plan, sum, err := runJob(t, p, 1, 0, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 8 || sum.Skipped != 0 {
		t.Fatalf("first run: %+v", sum)
	}
	// Three targets per source from one read of its canonical model.
	if sum.SourceBytes == 0 || sum.ReadBytes != sum.SourceBytes {
		t.Errorf("read %d bytes of canonical models of %d bytes", sum.ReadBytes, sum.SourceBytes)
	}
	for _, g := range plan.Groups {
		for _, task := range g.Tasks {
			sep := filepath.Join(t.TempDir(), "sep")
			switch task.Target.Format {
			case "gguf":
				o, _ := task.Target.ggufOptions()
				o.Output, o.Name = sep, g.ModelName
				if _, err := ggufmodel.Export(context.Background(), g.Canonical, o); err != nil {
					t.Fatal(err)
				}
				sameBytes(t, task.Output, sep)
			case "mlx":
				o := task.Target.mlxOptions()
				o.Output = sep
				if _, err := mlxmodel.Export(context.Background(), g.Canonical, o); err != nil {
					t.Fatal(err)
				}
				for _, f := range []string{"model.safetensors", "config.json"} {
					sameBytes(t, filepath.Join(task.Output, f), filepath.Join(sep, f))
				}
			}
			rec, err := readRecord(filepath.Join(plan.RecordDir(g), task.Target.Name()+".json"))
			if err != nil || rec == nil || rec.Parity == nil || rec.Parity.Tokens != 8 || !(rec.Parity.Top1 > 0) {
				t.Fatalf("%s: record %+v, %v", task.ID, rec, err)
			}
		}
	}
	// A rerun does nothing.
	if _, sum, err = runJob(t, p, 1, 0, RunOptions{}); err != nil || sum.Done != 0 || sum.Skipped != 8 {
		t.Fatalf("rerun: %+v, %v", sum, err)
	}
	// A damaged output is redone, and only it; with Rehash a change that
	// keeps size and time is found too.
	q8 := plan.Groups[0].Tasks[0].Output
	fi, _ := os.Stat(q8)
	b, _ := os.ReadFile(q8)
	b[len(b)-1] ^= 1
	os.WriteFile(q8, b, 0o666)
	os.Chtimes(q8, fi.ModTime(), fi.ModTime())
	if _, sum, err = runJob(t, p, 1, 0, RunOptions{}); err != nil || sum.Done != 0 {
		t.Fatalf("same size and time, no rehash: %+v, %v (want nothing redone)", sum, err)
	}
	if _, sum, err = runJob(t, p, 1, 0, RunOptions{Rehash: true}); err != nil || sum.Done != 1 || sum.Skipped != 7 {
		t.Fatalf("rehash: %+v, %v (want the damaged output redone)", sum, err)
	}
	// A file the job did not write is kept, the task fails; Force replaces it.
	q4 := plan.Groups[1].Tasks[1].Output
	os.Remove(filepath.Join(plan.RecordDir(plan.Groups[1]), "Q4_K_M.json"))
	os.WriteFile(q4, []byte("mine"), 0o666)
	_, sum, err = runJob(t, p, 1, 0, RunOptions{})
	if !errors.Is(err, ErrTasksFailed) || len(sum.Failed) != 1 || !strings.Contains(sum.Failed[0].Reason, "--force") {
		t.Fatalf("foreign output: %+v, %v", sum, err)
	}
	if b, _ := os.ReadFile(q4); string(b) != "mine" {
		t.Fatalf("the user's file was replaced")
	}
	if _, sum, err = runJob(t, p, 1, 0, RunOptions{Force: true}); err != nil || sum.Done != 8 {
		t.Fatalf("force: %+v, %v", sum, err)
	}
	// A touched source is imported again; its content is the same, so its
	// targets are current.
	now := time.Now().Add(time.Second)
	os.Chtimes(plan.Groups[0].Source, now, now)
	if _, sum, err = runJob(t, p, 1, 0, RunOptions{}); err != nil || sum.Done != 1 || sum.Skipped != 7 {
		t.Fatalf("touched source: %+v, %v (want only its import redone)", sum, err)
	}
}

func sameBytes(t *testing.T, a, b string) {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ (%v, %v)", a, b, err1, err2)
	}
}

// TestShardsAndMerge runs a sweep as three shards and merges it: before
// the last shard the report lists what is missing; then nothing.
func TestShardsAndMerge(t *testing.T) {
	p := sweep(t, 4, strings.Replace(sweepJob, "verify:\n  against: true\n  tokens: 8\n", "verify:\n  against: true\n  tokens: 8\n  max_kld: 1e-9\n", 1))
	var plan *Plan
	for shard := range 2 {
		var err error
		if plan, _, err = runJob(t, p, 3, shard, RunOptions{}); !errors.Is(err, ErrTasksFailed) {
			t.Fatalf("shard %d: %v (want the max_kld failures)", shard, err)
		}
	}
	m, err := Merge(plan.Output)
	if !errors.Is(err, ErrIncomplete) || len(m.Missing) != 4 || len(m.Failed) != 9 {
		t.Fatalf("merge after 2 of 3 shards: missing %v, failed %d, %v", m.Missing, len(m.Failed), err)
	}
	if !strings.Contains(m.Failed[0].Error, "exceeds max_kld") {
		t.Errorf("failure: %s", m.Failed[0].Error)
	}
	// The same job without the threshold: the failed tasks are redone.
	os.WriteFile(p, []byte(sweepJob), 0o666)
	for shard := range 3 {
		if _, _, err := runJob(t, p, 3, shard, RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if m, err = Merge(plan.Output); err != nil || len(m.Records) != 16 {
		t.Fatalf("merge: %d records, %v", len(m.Records), err)
	}
	h, _ := os.ReadFile(filepath.Join(plan.Output, "batch-report.html"))
	if n := strings.Count(string(h), "<polyline"); n != 4 {
		t.Errorf("report plot has %d lines, want one per source (4)", n)
	}
	md, _ := os.ReadFile(filepath.Join(plan.Output, "batch-report.md"))
	if !strings.Contains(string(md), "s4-iter-001-ckpt") || strings.Contains(string(md), "Missing") {
		t.Errorf("markdown report:\n%s", md)
	}
}

// TestLeaseKeepsSecondRunnerOut: a group whose lease a live process holds
// is waited for, not run beside it.
func TestLeaseKeepsSecondRunnerOut(t *testing.T) {
	p := sweep(t, 1, sweepJob)
	job, _ := ReadJob(p)
	plan, _ := MakePlan(job, 1)
	os.MkdirAll(filepath.Join(plan.Output, stateDir, "locks"), 0o777)
	l, _, err := atomicfile.AcquireLease(context.Background(), plan.leasePath(plan.Groups[0]), atomicfile.LeaseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	sum, err := Run(ctx, plan, RunOptions{ToolVersion: "test", Lease: atomicfile.LeaseOptions{Poll: 20 * time.Millisecond}})
	if !errors.Is(err, context.DeadlineExceeded) || sum.Done != 0 {
		t.Fatalf("with the lease held: %+v, %v (want a wait until the deadline)", sum, err)
	}
	l.Release()
	if _, err := Run(context.Background(), plan, RunOptions{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
}

// TestExampleJob: README's example job file plans as README says.
func TestExampleJob(t *testing.T) {
	job, err := ReadJob("../examples/batch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := MakePlan(job, 2)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range plan.Groups {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, []string{"archscale-fused", "archscale-head", "phi4flash-tiny"}) || len(plan.Groups[0].Tasks) != 3 {
		t.Errorf("groups %v", names)
	}
}

// TestImportFailure: a source that breaks between plan and run fails its
// import and its targets, each recorded with its error for merge; a
// repaired source is then run.
func TestImportFailure(t *testing.T) {
	p := sweep(t, 1, sweepJob)
	job, _ := ReadJob(p)
	plan, err := MakePlan(job, 1)
	if err != nil {
		t.Fatal(err)
	}
	src := plan.Groups[0].Source
	good, _ := os.ReadFile(src)
	os.WriteFile(src, good[:len(good)/2], 0o666)
	sum, err := Run(context.Background(), plan, RunOptions{ToolVersion: "test"})
	if !errors.Is(err, ErrTasksFailed) || len(sum.Failed) != 4 || !strings.Contains(sum.Failed[0].Reason, "iter-001-ckpt.pth") {
		t.Fatalf("broken source: %+v, %v", sum, err)
	}
	m, err := Merge(plan.Output)
	if !errors.Is(err, ErrIncomplete) || len(m.Failed) != 4 || !strings.Contains(m.Failed[1].Error, "import of") {
		t.Fatalf("merge: %+v, %v", m, err)
	}
	os.WriteFile(src, good, 0o666)
	if sum, err = Run(context.Background(), plan, RunOptions{ToolVersion: "test"}); err != nil || sum.Done != 4 {
		t.Fatalf("repaired: %+v, %v", sum, err)
	}
}
