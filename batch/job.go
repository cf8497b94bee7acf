package batch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/quant"
)

// ErrJob marks an invalid job file; its message names the file and line.
var ErrJob = errors.New("invalid job file")

// maxJobFile bounds the job file read (a job file is a few KB).
const maxJobFile = 1 << 20

// A Job is a parsed and checked job file (docs/BATCH.md §The job file).
type Job struct {
	File    string // the job file
	Output  string // the output root (relative paths in the file are relative to the file's folder)
	Naming  string // output path template below Output, without extension
	Workers int    // source groups run at once (0: decided from cores and Memory)
	Memory  int64  // memory budget in bytes
	Verify  Verify
	Targets []Target // the default targets of every source
	Sources []Source
	Slurm   Slurm
}

// Verify says how each output is checked.
type Verify struct {
	Against bool     // compare every target with the canonical import (KL, top-1, NMSE of logits)
	Tokens  int      // token count of the comparison (default 64)
	MaxKLD  *float64 // fail a target whose mean KL exceeds this
}

// Slurm holds the sbatch settings of `batch slurm`.
type Slurm struct {
	Shards    int    // array size (default: one per source group, at most 64)
	CPUs      int    // --cpus-per-task (default 2)
	Mem       string // --mem (default: the memory budget + 1 GB)
	Time      string // --time (default none)
	Partition string // --partition (default none)
	Binary    string // the sambay-conv binary the script runs (default: this one)
}

// A Source is one entry of the job file's sources: a path or glob.
type Source struct {
	Line    int
	Path    string // as written
	Name    string // output folder name; only for an entry matching one path
	Config  string // --config: lit_gpt JSON or HF config.json
	Arch    string // --arch: a built-in ArchScale configuration
	Golden  string // golden file the import is verified against
	Targets []Target
}

// A Target is one output made from every source it applies to.
type Target struct {
	Line        int      `json:"-"`
	Format      string   `json:"format"`                 // gguf or mlx
	Type        string   `json:"type,omitempty"`         // gguf: a mix, or with Pure a ggml type
	Pure        bool     `json:"pure,omitempty"`         // gguf
	TensorTypes []string `json:"tensor_types,omitempty"` // gguf: REGEX=TYPE overrides
	Bits        int      `json:"bits,omitempty"`         // mlx
	GroupSize   int      `json:"group_size,omitempty"`   // mlx
	Recipe      string   `json:"recipe,omitempty"`       // mlx
	Label       string   `json:"label,omitempty"`        // names the target in paths and reports
}

// Spec is the target's canonical description, part of a task's key.
func (t Target) Spec() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%s", t.Format, t.TypeLabel())
	if t.Pure {
		b.WriteString(":pure")
	}
	for _, o := range t.TensorTypes {
		fmt.Fprintf(&b, ":tt=%s", o)
	}
	return b.String()
}

// TypeLabel is the type part of the default output name: the mix or type as
// llama.cpp writes it (Q4_K_M), or mlx-4bit-g64 / mlx-mixed_4_6-g64.
func (t Target) TypeLabel() string {
	if t.Format == "mlx" {
		if t.Recipe != "" {
			return fmt.Sprintf("mlx-%s-g%d", t.Recipe, t.GroupSize)
		}
		return fmt.Sprintf("mlx-%dbit-g%d", t.Bits, t.GroupSize)
	}
	return strings.ToUpper(t.Type)
}

// Name is the target's label, or its type label.
func (t Target) Name() string {
	if t.Label != "" {
		return t.Label
	}
	return t.TypeLabel()
}

// overrides parses the target's tensor-type overrides.
func (t Target) overrides() ([]quant.Override, error) {
	var out []quant.Override
	for _, s := range t.TensorTypes {
		o, err := quant.ParseOverride(s)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// ggufOptions are the export options of a GGUF target.
func (t Target) ggufOptions() (ggufmodel.Options, error) {
	o := ggufmodel.Options{Policy: t.Type}
	if t.Pure {
		pt, err := quant.ParseType(t.Type)
		if err != nil || pt == ggml.TypeF32 {
			return o, fmt.Errorf("type %q: with pure, want a ggml type (q4_0 … q6_k, f16, bf16)", t.Type)
		}
		o.Pure, o.PureType, o.Policy = true, pt, ""
	}
	var err error
	if o.Overrides, err = t.overrides(); err != nil {
		return o, err
	}
	return o, o.Validate()
}

// DefaultNaming is the output path template: below the output root, one
// folder per source, and llama.cpp's default file name.
const DefaultNaming = "{source}/{name}-{size}-{type}"

// jobErr is an error at line of the job file.
func jobErr(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrJob, file, line, fmt.Sprintf(format, args...))
}

// ReadJob reads and checks the job file at path (YAML, or JSON, which is
// YAML too). It checks everything that needs no source: keys, types,
// values. Sources are found and checked by Plan.
func ReadJob(path string) (*Job, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrJob, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxJobFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxJobFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrJob, path, maxJobFile)
	}
	return ParseJob(path, b)
}

// ParseJob parses job file content; path names it in errors and anchors
// relative paths.
func ParseJob(path string, b []byte) (*Job, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: %s is empty", ErrJob, path)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrJob, path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, jobErr(path, extra.Line, "a job file holds one document")
	}
	root := doc.Content[0]
	p := &parser{file: path}
	job := &Job{File: path, Naming: DefaultNaming, Memory: 1 << 30, Verify: Verify{Tokens: 64}}
	err := p.mapping(root, "the job file", map[string]func(*yaml.Node) error{
		"output":  p.str(&job.Output),
		"naming":  p.str(&job.Naming),
		"workers": p.intIn(&job.Workers, 1, 1024),
		"memory":  p.size(&job.Memory),
		"verify": func(n *yaml.Node) error {
			return p.mapping(n, "verify", map[string]func(*yaml.Node) error{
				"against": p.boolean(&job.Verify.Against),
				"tokens":  p.intIn(&job.Verify.Tokens, 2, 1<<16),
				"max_kld": func(n *yaml.Node) error {
					var v float64
					if err := p.float(&v)(n); err != nil {
						return err
					}
					job.Verify.MaxKLD = &v
					return nil
				},
			})
		},
		"targets": func(n *yaml.Node) error {
			var err error
			job.Targets, err = p.targets(n)
			return err
		},
		"sources": func(n *yaml.Node) error { return p.sources(n, job) },
		"slurm": func(n *yaml.Node) error {
			return p.mapping(n, "slurm", map[string]func(*yaml.Node) error{
				"shards":    p.intIn(&job.Slurm.Shards, 1, 10000),
				"cpus":      p.intIn(&job.Slurm.CPUs, 1, 4096),
				"mem":       p.str(&job.Slurm.Mem),
				"time":      p.str(&job.Slurm.Time),
				"partition": p.str(&job.Slurm.Partition),
				"binary":    p.str(&job.Slurm.Binary),
			})
		},
	}, "output", "sources")
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	job.Output = anchor(dir, job.Output)
	for i := range job.Sources {
		s := &job.Sources[i]
		s.Path, s.Config, s.Golden = anchor(dir, s.Path), anchor(dir, s.Config), anchor(dir, s.Golden)
		if s.Targets == nil && job.Targets == nil {
			return nil, jobErr(path, s.Line, "source %s has no targets (give the job's targets or the source's)", s.Path)
		}
	}
	if err := checkNaming(job.Naming); err != nil {
		return nil, jobErr(path, p.line(root, "naming"), "naming %q: %v", job.Naming, err)
	}
	return job, nil
}

// anchor resolves a path relative to dir ("" stays "").
func anchor(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

var placeholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{[^{}]*\}`) })

// checkNaming accepts a template of the known placeholders, relative and
// not leaving the output root.
func checkNaming(t string) error {
	for _, m := range placeholder().FindAllString(t, -1) {
		if !slices.Contains([]string{"{source}", "{name}", "{size}", "{type}"}, m) {
			return fmt.Errorf("unknown placeholder %s (known: {source}, {name}, {size}, {type})", m)
		}
	}
	if !strings.Contains(t, "{source}") {
		return errors.New("it must contain {source}, or outputs of different sources would collide")
	}
	if !strings.Contains(t, "{type}") {
		return errors.New("it must contain {type}, or outputs of different targets would collide")
	}
	if filepath.IsAbs(t) || !filepath.IsLocal(placeholder().ReplaceAllString(t, "x")) {
		return errors.New("it must be a relative path inside the output root")
	}
	return nil
}

// parser decodes yaml nodes with errors that name the file and line.
type parser struct{ file string }

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	return jobErr(p.file, n.Line, format, args...)
}

// line returns the line of key in mapping n (or n's own line).
func (p *parser) line(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

// mapping decodes mapping n by its keys: every key must be known and
// appear once; required keys must be present.
func (p *parser) mapping(n *yaml.Node, what string, keys map[string]func(*yaml.Node) error, required ...string) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s must be a mapping of keys", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := keys[k.Value]
		if !ok {
			known := make([]string, 0, len(keys))
			for name := range keys {
				known = append(known, name)
			}
			slices.Sort(known)
			return p.errf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return p.errf(k, "key %q appears twice in %s", k.Value, what)
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			return p.errf(v, "aliases are not supported in a job file")
		}
		if err := f(v); err != nil {
			return err
		}
	}
	for _, r := range required {
		if !seen[r] {
			return p.errf(n, "%s needs %q", what, r)
		}
	}
	return nil
}

func (p *parser) scalar(n *yaml.Node, want string) error {
	if n.Kind != yaml.ScalarNode {
		return p.errf(n, "want %s", want)
	}
	return nil
}

func (p *parser) str(dst *string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if err := p.scalar(n, "a string"); err != nil {
			return err
		}
		if n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
			return p.errf(n, "want a non-empty string")
		}
		*dst = n.Value
		return nil
	}
}

func (p *parser) boolean(dst *bool) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if err := p.scalar(n, "true or false"); err != nil {
			return err
		}
		if n.Tag != "!!bool" {
			return p.errf(n, "want true or false, not %q", n.Value)
		}
		return n.Decode(dst)
	}
}

func (p *parser) intIn(dst *int, lo, hi int) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if err := p.scalar(n, "a whole number"); err != nil {
			return err
		}
		v, err := strconv.Atoi(n.Value)
		if n.Tag != "!!int" || err != nil || v < lo || v > hi {
			return p.errf(n, "want a whole number from %d to %d, not %q", lo, hi, n.Value)
		}
		*dst = v
		return nil
	}
}

func (p *parser) float(dst *float64) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if err := p.scalar(n, "a number"); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(n.Value, 64)
		if (n.Tag != "!!float" && n.Tag != "!!int") || err != nil || !(v >= 0) || v > 1e300 {
			return p.errf(n, "want a finite number ≥ 0, not %q", n.Value)
		}
		*dst = v
		return nil
	}
}

func (p *parser) size(dst *int64) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if err := p.scalar(n, "a size such as 1GB or 512MiB"); err != nil {
			return err
		}
		v, err := ParseSize(n.Value)
		if err != nil {
			return p.errf(n, "%v", err)
		}
		*dst = v
		return nil
	}
}

func (p *parser) strings(dst *[]string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind == yaml.ScalarNode {
			var s string
			if err := p.str(&s)(n); err != nil {
				return err
			}
			*dst = []string{s}
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return p.errf(n, "want a string or a list of strings")
		}
		for _, c := range n.Content {
			var s string
			if err := p.str(&s)(c); err != nil {
				return err
			}
			*dst = append(*dst, s)
		}
		return nil
	}
}

// targets decodes a list of targets.
func (p *parser) targets(n *yaml.Node) ([]Target, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, p.errf(n, "targets must be a non-empty list")
	}
	out := []Target{}
	for _, c := range n.Content {
		t, err := p.target(c)
		if err != nil {
			return nil, err
		}
		for _, o := range out {
			if o.Spec() == t.Spec() && o.Label == t.Label {
				return nil, p.errf(c, "target %s is listed twice (first at line %d)", t.Spec(), o.Line)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// target decodes one target: {gguf: MIX} or {gguf: TYPE, pure: true} with
// tensor_type overrides, or {mlx: BITS|RECIPE, group_size: G}.
func (p *parser) target(n *yaml.Node) (Target, error) {
	t := Target{Line: n.Line}
	var mlx string
	err := p.mapping(n, "a target", map[string]func(*yaml.Node) error{
		"gguf":        p.str(&t.Type),
		"mlx":         p.str(&mlx),
		"pure":        p.boolean(&t.Pure),
		"tensor_type": p.strings(&t.TensorTypes),
		"group_size":  p.intIn(&t.GroupSize, 1, 1<<20),
		"label":       p.str(&t.Label),
	})
	if err != nil {
		return t, err
	}
	switch {
	case t.Type != "" && mlx != "":
		return t, p.errf(n, "a target is gguf or mlx, not both")
	case t.Type != "":
		t.Format, t.Type = "gguf", strings.ToLower(t.Type)
		if t.GroupSize != 0 {
			return t, p.errf(n, "group_size is an mlx setting")
		}
		if _, err := t.ggufOptions(); err != nil {
			return t, p.errf(n, "gguf target: %v", err)
		}
	case mlx != "":
		t.Format = "mlx"
		if t.Pure || len(t.TensorTypes) > 0 {
			return t, p.errf(n, "pure and tensor_type are gguf settings")
		}
		if t.GroupSize == 0 {
			t.GroupSize = 64
		}
		if b, err := strconv.Atoi(mlx); err == nil {
			t.Bits = b
		} else {
			t.Recipe, t.Bits = strings.ToLower(mlx), 4
			if !slices.Contains(mlxmodel.Recipes, t.Recipe) {
				return t, p.errf(n, "mlx target %q: want bits (2, 3, 4, 5, 6, 8) or a recipe (%s)", mlx, strings.Join(mlxmodel.Recipes, ", "))
			}
		}
		if err := quant.MLXCheck(t.Bits, t.GroupSize); err != nil {
			return t, p.errf(n, "mlx target: %v", err)
		}
	default:
		return t, p.errf(n, "a target needs gguf: TYPE or mlx: BITS")
	}
	if t.Label != "" && !filepath.IsLocal(t.Label) || strings.ContainsAny(t.Label, `/\`) {
		return t, p.errf(n, "label %q must be a plain name", t.Label)
	}
	return t, nil
}

// sources decodes the list of sources.
func (p *parser) sources(n *yaml.Node, job *Job) error {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return p.errf(n, "sources must be a non-empty list")
	}
	for _, c := range n.Content {
		s := Source{Line: c.Line}
		if c.Kind == yaml.ScalarNode {
			if err := p.str(&s.Path)(c); err != nil {
				return err
			}
			job.Sources = append(job.Sources, s)
			continue
		}
		err := p.mapping(c, "a source", map[string]func(*yaml.Node) error{
			"path":   p.str(&s.Path),
			"name":   p.str(&s.Name),
			"config": p.str(&s.Config),
			"arch":   p.str(&s.Arch),
			"golden": p.str(&s.Golden),
			"targets": func(n *yaml.Node) error {
				var err error
				s.Targets, err = p.targets(n)
				return err
			},
		}, "path")
		if err != nil {
			return err
		}
		if s.Name != "" && (!filepath.IsLocal(s.Name) || strings.ContainsAny(s.Name, `/\`)) {
			return p.errf(c, "name %q must be a plain folder name", s.Name)
		}
		job.Sources = append(job.Sources, s)
	}
	return nil
}

// ParseSize parses "5GB", "500MB", "2GiB", "1024" (bytes).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || !(f > 0) || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("bad size %q (e.g. 5GB, 500MB, 2GiB)", s)
	}
	return int64(f * float64(mult)), nil
}
