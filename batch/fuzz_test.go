package batch

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseJob: any job file content is parsed or refused with ErrJob,
// never a panic, and an accepted job has what Plan relies on.
func FuzzParseJob(f *testing.F) {
	for _, s := range []string{sweepJob,
		"output: o\nsources: [a, {path: b, name: c, arch: sambay_d8, targets: [{mlx: mixed_4_6, group_size: 32}]}]\ntargets: [{gguf: q5_k, pure: true, tensor_type: [\"ffn=q8_0\"], label: x}]\nslurm: {shards: 3, mem: 2G}\n",
		`{"output": "o", "sources": ["a"], "targets": [{"gguf": "q4_k_m"}], "verify": {"against": true, "max_kld": 0.5}}`,
		"output: o\nsources: &a [x]\ntargets: *a\n", "[1, 2", "output: !!binary aGVsbG8=\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		job, err := ParseJob("jobs.yaml", b)
		if err != nil {
			if !errors.Is(err, ErrJob) {
				t.Fatalf("error without ErrJob: %v", err)
			}
			return
		}
		if job.Output == "" || len(job.Sources) == 0 || checkNaming(job.Naming) != nil {
			t.Fatalf("accepted a job without output, sources or a valid naming: %+v", job)
		}
		for _, s := range job.Sources {
			ts := s.Targets
			if ts == nil {
				ts = job.Targets
			}
			if len(ts) == 0 {
				t.Fatalf("source %s accepted without targets", s.Path)
			}
			for _, tg := range ts {
				if tg.Format != "gguf" && tg.Format != "mlx" || strings.ContainsAny(tg.Name(), `/\`) {
					t.Fatalf("target %+v accepted", tg)
				}
			}
		}
	})
}
