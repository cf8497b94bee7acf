package convert

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/layout"
	"github.com/sambay-conv/sambay-conv/reference"
)

// maxListed bounds the problems listed in one error; the rest are counted.
const maxListed = 6

// A Mapped tensor is one canonical tensor and where it comes from.
type Mapped struct {
	Spec reference.TensorSpec
	T    formats.Tensor // lazy, in the source dtype, canonical name and shape
	From []string       // source tensor names
	Note string         // how it was derived, when not a plain copy
}

// mapper collects the canonical tensors of a source and every problem found.
type mapper struct {
	cfg      *reference.Config
	src      *Source
	used     map[string]bool
	errs     []error
	notes    []string
	out      []Mapped
	expected map[string][]int64 // source name → expected shape (for messages)
}

func (m *mapper) fail(format string, args ...any) {
	m.errs = append(m.errs, fmt.Errorf(format, args...))
}

// get returns source tensor name after checking its shape and dtype.
func (m *mapper) get(name string, shape []int64, what string) (formats.Tensor, bool) {
	t, ok := m.src.Tensors[name]
	if !ok {
		if what != "" {
			what += " "
		}
		m.fail("%s: tensor %s is missing (expected %s%s)", m.src.Path, name, what, formats.ShapeString(shape))
		return formats.Tensor{}, false
	}
	m.used[name] = true
	if !formats.EqualShape(t.Shape, shape) {
		if what != "" {
			what = " (" + what + ")"
		}
		m.fail("%s: tensor %s has shape %s, the config expects %s%s", t.File, name, formats.ShapeString(t.Shape), formats.ShapeString(shape), what)
		return formats.Tensor{}, false
	}
	if !t.DType.IsFloat() {
		m.fail("%s: tensor %s has dtype %v; weights must be BF16, F16, F32 or F64", t.File, name, t.DType)
		return formats.Tensor{}, false
	}
	return t, true
}

func (m *mapper) copy(spec reference.TensorSpec, srcName, what string) {
	t, ok := m.get(srcName, spec.Shape, what)
	if !ok {
		return
	}
	t.Name = spec.Name
	m.out = append(m.out, Mapped{Spec: spec, T: t, From: []string{srcName}})
}

func (m *mapper) gather(spec reference.TensorSpec, parts []formats.RowRange, from []string, note string) {
	// All parts must share a dtype; convert to the widest present.
	dt := parts[0].Src.DType
	for _, p := range parts {
		if p.Src.DType.Size() > dt.Size() || (p.Src.DType.Size() == dt.Size() && p.Src.DType != dt && p.Src.DType == formats.F32) {
			dt = p.Src.DType
		}
	}
	for i := range parts {
		parts[i].Src = formats.Converted(parts[i].Src, dt)
	}
	t, err := formats.GatherRows(spec.Name, spec.Shape, parts)
	if err != nil {
		m.fail("%v", err)
		return
	}
	m.out = append(m.out, Mapped{Spec: spec, T: t, From: from, Note: note})
}

// Canonicalize maps the tensors of src onto the canonical tensor set of cfg
// (docs/MODEL.md §5.4), checking names, shapes and dtypes, and the tie of
// embedding and head. It returns the mapped tensors in canonical order, notes
// about derived tensors, and the source names that nothing consumed.
func Canonicalize(cfg *reference.Config, src *Source) ([]Mapped, []string, []string, error) {
	m := &mapper{cfg: cfg, src: src, used: map[string]bool{}}
	for _, n := range src.Skipped {
		m.used[n] = true
	}
	specs := cfg.Tensors()
	switch src.Layout {
	case LayoutHF:
		m.mapHF(specs)
	case LayoutSeparate, LayoutFused, LayoutArchScale:
		m.mapArchScale(specs)
	case "mixed":
		return nil, nil, nil, fmt.Errorf("%w: %s has both fused attn.attn and separate q_proj projections", ErrValidation, src.Path)
	default:
		return nil, nil, nil, fmt.Errorf("%w: %s: cannot tell the layout from the tensor names (want HF \"model.…\" or ArchScale \"transformer.…\" names)", ErrValidation, src.Path)
	}
	var extra []string
	for _, n := range src.Names {
		if !m.used[n] {
			extra = append(extra, n)
		}
	}
	if len(m.errs) > 0 {
		errs := m.errs
		if len(errs) > maxListed {
			errs = append(errs[:maxListed:maxListed], fmt.Errorf("… and %d more problems", len(m.errs)-maxListed))
		}
		if hint := m.shapeHint(); hint != "" {
			errs = append([]error{fmt.Errorf("%s", hint)}, errs...)
		}
		return nil, m.notes, extra, fmt.Errorf("%w: %w", ErrValidation, joinErrs(errs))
	}
	return m.out, m.notes, extra, nil
}

func (m *mapper) mapHF(specs []reference.TensorSpec) {
	for _, s := range specs {
		m.copy(s, s.Name, "canonical")
	}
	if m.cfg.Tied {
		emb, head := layout.Get("embed"), layout.Get("head")
		if _, ok := m.src.Tensors[head.Canonical]; ok {
			m.checkTie(emb.Canonical, head.Canonical)
		}
	}
}

// checkTie accepts a stored head under a tied config only when it equals the
// embedding bit for bit (docs/MODEL.md §6.2).
func (m *mapper) checkTie(emb, head string) {
	m.used[head] = true
	a, b := m.src.Tensors[emb], m.src.Tensors[head]
	if m.src.SameStorage(emb, head) {
		m.notes = append(m.notes, fmt.Sprintf("%s and %s share one storage (tied)", emb, head))
		return
	}
	if a.DType != b.DType || !formats.EqualShape(a.Shape, b.Shape) {
		m.fail("%s: the config ties the embeddings, but %s (%v %s) and %s (%v %s) differ", m.src.Path, emb, a.DType, formats.ShapeString(a.Shape), head, b.DType, formats.ShapeString(b.Shape))
		return
	}
	eq, err := sameBytes(a, b)
	if err != nil {
		m.fail("%v", err)
		return
	}
	if !eq {
		m.fail("%s: the config ties the embeddings, but %s and %s hold different values; untie (--config with tied_embed false) or fix the checkpoint", m.src.Path, emb, head)
		return
	}
	m.notes = append(m.notes, fmt.Sprintf("%s is a copy of %s, equal bit for bit (tied)", head, emb))
}

func sameBytes(a, b formats.Tensor) (bool, error) {
	ra, rb := a.Reader(), b.Reader()
	ba, bb := make([]byte, 1<<16), make([]byte, 1<<16)
	for {
		na, ea := io.ReadFull(ra, ba)
		nb, eb := io.ReadFull(rb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return true, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil && eb != io.EOF && eb != io.ErrUnexpectedEOF {
			return false, eb
		}
	}
}

// ArchScaleName returns the ArchScale names (separate layout,
// docs/MODEL.md §5.4) a canonical tensor is made from: one name for a
// plain copy; q_proj, k_proj and v_proj for a self-attention Wqkv weight;
// q_proj and v_proj biases for its bias (the k bias has no slot).
func ArchScaleName(spec reference.TensorSpec) []string {
	k, l := spec.Kind, spec.Layer
	if k.Import == layout.ConcatQKV {
		if k.Shape[0] == layout.DimQKV && len(k.Shape) == 1 {
			return []string{layout.Name(k.ArchScale, l), layout.Name(layout.ArchScaleVBias, l)}
		}
		return []string{layout.Name(k.ArchScale, l), layout.Name(layout.ArchScaleK, l), layout.Name(layout.ArchScaleV, l)}
	}
	return []string{layout.Name(k.ArchScale, l)}
}

// what describes a source tensor for messages, where a name alone is unclear.
var what = map[string]string{"cross.q.weight": "query projection", "cross.q.bias": "query projection"}

func (m *mapper) mapArchScale(specs []reference.TensorSpec) {
	c := m.cfg
	Q, C, hd := int64(c.QDim()), int64(c.KVDim()), int64(c.HeadDim)
	E := int64(c.NEmbd)
	P := int64(c.NHead / c.NKVHead)
	G := int64(c.NKVHead)
	fusedLayer := func(layer int) bool {
		_, ok := m.src.Tensors[layout.Name(layout.Get("self.qkv.weight").Fused, layer)]
		return ok
	}
	for _, s := range specs {
		k, l := s.Kind, s.Layer
		names := ArchScaleName(s)
		switch {
		case k.Fused != "" && fusedLayer(l):
			name := layout.Name(k.Fused, l)
			t, ok := m.get(name, s.Shape, "fused attention projection")
			if !ok {
				continue
			}
			if k.Import != layout.ConcatQKV {
				t.Name = s.Name
				m.out = append(m.out, Mapped{Spec: s, T: t, From: []string{name}})
				continue
			}
			// HF order [Q | K | V] from per-group [q…q, k, v] rows (docs/MODEL.md §5.4).
			var parts []formats.RowRange
			for j := int64(0); j < int64(c.NHead); j++ {
				g, sl := j/P, j%P
				parts = append(parts, formats.RowRange{Src: t, Start: (g*(P+2) + sl) * hd, Count: hd})
			}
			for g := int64(0); g < G; g++ {
				parts = append(parts, formats.RowRange{Src: t, Start: (g*(P+2) + P) * hd, Count: hd})
			}
			for g := int64(0); g < G; g++ {
				parts = append(parts, formats.RowRange{Src: t, Start: (g*(P+2) + P + 1) * hd, Count: hd})
			}
			m.gather(s, parts, []string{name}, "rows regrouped from the per-KV-group fused layout to [Q | K | V]")
		case k.Import == layout.ConcatQKV && len(names) == 3:
			q, ok1 := m.get(names[0], []int64{Q, E}, "H·hd × E")
			kk, ok2 := m.get(names[1], []int64{C, E}, "G·hd × E")
			v, ok3 := m.get(names[2], []int64{C, E}, "G·hd × E")
			if ok1 && ok2 && ok3 {
				m.gather(s, []formats.RowRange{{Src: q, Count: Q}, {Src: kk, Count: C}, {Src: v, Count: C}},
					names, "concatenated [q_proj | k_proj | v_proj]")
			}
		case k.Import == layout.ConcatQKV:
			q, ok1 := m.get(names[0], []int64{Q}, "H·hd")
			v, ok3 := m.get(names[1], []int64{C}, "G·hd")
			kb := layout.Name(layout.ArchScaleKBias, l)
			if _, has := m.src.Tensors[kb]; has {
				m.fail("%s: tensor %s present, but the separate layout never has a k bias (docs/MODEL.md §5.4)", m.src.Path, kb)
			}
			if ok1 && ok3 {
				z := formats.Zeros(kb+"(zeros)", q.DType, []int64{C})
				note := "k bias: the source layout has none; zeros written (adds q·0 to every logit: the same function)"
				m.gather(s, []formats.RowRange{{Src: q, Count: Q}, {Src: z, Count: C}, {Src: v, Count: C}}, names, note)
				m.notes = append(m.notes, s.Name+": "+note)
			}
		default:
			m.copy(s, names[0], what[k.ID])
		}
	}
	if c.Tied {
		emb, head := layout.Get("embed"), layout.Get("head")
		if _, ok := m.src.Tensors[head.ArchScale]; ok {
			m.checkTie(emb.ArchScale, head.ArchScale)
		}
	}
}

// shapeHint infers the main dimensions from the source names and shapes
// (docs/MODEL.md §1.3 step 4) and compares them with the config.
func (m *mapper) shapeHint() string {
	src, c := m.src, m.cfg
	get := func(names ...string) (formats.Tensor, bool) {
		for _, n := range names {
			if t, ok := src.Tensors[n]; ok {
				return t, true
			}
		}
		return formats.Tensor{}, false
	}
	var diffs []string
	cmp := func(what string, file, cfg int64) {
		if file != cfg {
			diffs = append(diffs, fmt.Sprintf("%s: file %d, config %d", what, file, cfg))
		}
	}
	names := func(id string, layer int) []string {
		k := layout.Get(id)
		return []string{layout.Name(k.Canonical, layer), layout.Name(k.ArchScale, layer)}
	}
	if t, ok := get(names("embed", -1)...); ok && len(t.Shape) == 2 {
		cmp("vocab (embedding rows)", t.Shape[0], int64(c.VocabSize))
		cmp("n_embd (embedding columns)", t.Shape[1], int64(c.NEmbd))
	}
	maxLayer := -1
	for _, n := range src.Names {
		maxLayer = max(maxLayer, layout.LayerIndex(n))
	}
	cmp("n_layer (largest block index + 1)", int64(maxLayer+1), int64(c.NLayer))
	if t, ok := get(names("mlp.fc2.weight", 0)...); ok && len(t.Shape) == 2 {
		cmp("intermediate_size (fc2/w3 columns)", t.Shape[1], int64(c.Intermediate))
	}
	if t, ok := get(names("mamba.dt_proj.weight", 0)...); ok && len(t.Shape) == 2 {
		cmp("dt_rank (dt_proj columns)", t.Shape[1], int64(c.DtRank))
	}
	if t, ok := get(layout.Name(layout.ArchScaleK, 1)); ok && len(t.Shape) == 2 {
		cmp("n_kv_head·head_dim (k_proj rows)", t.Shape[0], int64(c.KVDim()))
	}
	if t, ok := get(layout.Name(layout.Get("self.qkv.weight").ArchScale, 1)); ok && len(t.Shape) == 2 {
		cmp("n_head·head_dim (q_proj rows)", t.Shape[0], int64(c.QDim()))
	}
	if t, ok := get(names("attn.lambda_q1", 1)...); ok && len(t.Shape) == 1 {
		cmp("head_dim (DA lambda length)", t.Shape[0], int64(c.HeadDim))
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	return "the file's shapes disagree with the config (" + strings.Join(diffs, "; ") + "): pass --arch or --config for the right architecture"
}
