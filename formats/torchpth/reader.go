package torchpth

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/internal/mmap"
)

// Options control a load. The zero value is the strict default.
type Options struct {
	// MaxPickleSize bounds data.pkl (default 256 MiB: a state dict with its
	// optimizer state pickles to a few MB; the tensors live in their own records).
	MaxPickleSize int64
	// AllowUnknownGlobals turns globals outside the whitelist into inert
	// placeholders instead of failing (they must not be reachable from the
	// state dict).
	AllowUnknownGlobals bool
	// VerifyCRC reads each used storage record once and checks its CRC-32.
	VerifyCRC bool
	// NoMmap makes Open read with pread instead of mapping the file, so the
	// resident memory of a streaming job does not grow with the pages read.
	NoMmap bool
}

// A File is a loaded torch.save checkpoint: the tensors of its state dict
// (lazy) and the plain values stored next to it.
type File struct {
	Name string
	// Tensors of the state dict in pickle order, keys normalised: leading
	// module-wrapper segments (module., _orig_mod., _forward_module.,
	// _fsdp_wrapped_module., _checkpoint_wrapped_module.) stripped.
	Tensors []formats.Tensor
	// SourceKeys maps a normalised name to the key as stored.
	SourceKeys map[string]string
	// Skipped lists state-dict keys ignored on purpose (…._extra_state).
	Skipped []string
	// StateKey is the top-level key that held the state dict ("model",
	// "state_dict"), or "" when the top level is the state dict.
	StateKey string
	// Hparams is state["hparams"] as plain values (bool, int64, float64,
	// string, nil, []any, map[string]any), or nil.
	Hparams map[string]any
	// IterNum and StepCount are state["iter_num"], state["step_count"] when present.
	IterNum, StepCount *int64
	// TopKeys lists the keys of the top-level dict.
	TopKeys []string

	refs map[string]*tensorRef
	m    *mmap.Map
	fh   *os.File
}

// Open maps (or, with opts.NoMmap, opens) and loads the named file.
func Open(name string, opts Options) (*File, error) {
	if opts.NoMmap {
		fh, size, err := mmap.OpenFile(name)
		if err != nil {
			return nil, err
		}
		f, err := load(name, fh, size, opts, nil)
		if err != nil {
			fh.Close()
			return nil, err
		}
		f.fh = fh
		return f, nil
	}
	m, err := mmap.Open(name)
	if err != nil {
		return nil, err
	}
	f, err := load(name, formats.BytesReaderAt(m.Data), int64(len(m.Data)), opts, m.Data)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m = m
	return f, nil
}

// NewFile loads a torch.save file of the given size read through r.
func NewFile(r io.ReaderAt, size int64, name string, opts Options) (*File, error) {
	return load(name, r, size, opts, nil)
}

// Close releases the mapping, if any.
func (f *File) Close() error {
	var err error
	if f.m != nil {
		err = f.m.Close()
		f.m = nil
	}
	if f.fh != nil {
		err = f.fh.Close()
		f.fh = nil
	}
	return err
}

// Tensor returns the state-dict tensor of the given (normalised) name.
func (f *File) Tensor(name string) (formats.Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return formats.Tensor{}, false
}

// SameView reports whether tensors a and b are the same view of one storage
// (same storage record, offset, shape and stride), as tied weights saved by
// a plain torch.save are.
func (f *File) SameView(a, b string) bool {
	ra, rb := f.refs[a], f.refs[b]
	if ra == nil || rb == nil {
		return false
	}
	return ra.storage.key == rb.storage.key && ra.offset == rb.offset && ra.dt == rb.dt &&
		formats.EqualShape(ra.shape, rb.shape) && formats.EqualShape(ra.stride, rb.stride)
}

// legacyMagic is torch's MAGIC_NUMBER 0x1950a86a20f9469cfc6c pickled as a
// LONG1 after PROTO (torch/serialization.py, legacy _save).
var legacyMagic = []byte{0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

var wrapperPrefixes = []string{"module.", "_orig_mod.", "_forward_module.", "_fsdp_wrapped_module.", "_checkpoint_wrapped_module."}

func load(name string, r io.ReaderAt, size int64, opts Options, mem []byte) (f *File, err error) {
	cerr := func(kind error, tensor string, format string, args ...any) error {
		return formats.Errorf(kind, name, tensor, -1, format, args...)
	}
	if opts.MaxPickleSize <= 0 {
		opts.MaxPickleSize = 256 << 20
	}
	var head [512]byte
	n, _ := r.ReadAt(head[:], 0)
	if n < 4 || !bytes.Equal(head[:4], []byte("PK\x03\x04")) {
		if n >= 14 && head[0] == 0x80 && bytes.Equal(head[2:14], legacyMagic) ||
			n >= 262 && bytes.Equal(head[257:262], []byte("ustar")) {
			return nil, cerr(ErrUnsupportedFormat, "", "legacy torch serialization format is not supported; re-save with torch.save (zip format)")
		}
		return nil, cerr(ErrNotTorchZip, "", "file does not start with a zip local header (PK\\x03\\x04)")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, cerr(ErrCorrupt, "", "zip: %v", err)
	}
	if len(zr.File) == 0 {
		return nil, cerr(ErrCorrupt, "", "zip archive is empty")
	}
	prefix, _, ok := strings.Cut(zr.File[0].Name, "/")
	if !ok {
		return nil, cerr(ErrCorrupt, "", "zip entry %q has no folder prefix", zr.File[0].Name)
	}
	prefix += "/"
	entries := make(map[string]*zip.File, len(zr.File))
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, prefix) {
			return nil, cerr(ErrCorrupt, "", "zip entry %q does not share the prefix %q", zf.Name, prefix)
		}
		rel := zf.Name[len(prefix):]
		if rel == "constants.pkl" || strings.HasPrefix(rel, "code/") {
			return nil, cerr(ErrUnsupportedFormat, "", "TorchScript archive (%s), not a checkpoint; save the state dict with torch.save", rel)
		}
		entries[rel] = zf
	}
	if bo, ok := entries["byteorder"]; ok {
		b, err := readEntry(bo, 16)
		if err != nil {
			return nil, cerr(ErrCorrupt, "", "byteorder record: %v", err)
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			return nil, cerr(ErrUnsupportedFeature, "", "big-endian checkpoint (byteorder = big)")
		default:
			return nil, cerr(ErrCorrupt, "", "byteorder record %q", b)
		}
	}
	pe, ok := entries["data.pkl"]
	if !ok {
		return nil, cerr(ErrCorrupt, "", "no %sdata.pkl record", prefix)
	}
	limit := opts.MaxPickleSize
	if pe.Method != zip.Store {
		// torch.save stores data.pkl; a compressed one is inflated only so far:
		// 2 MB of deflated zeros would otherwise become 2 GiB in memory.
		limit = min(limit, maxCompressedPickle, max(1<<20, 100*int64(pe.CompressedSize64)))
	}
	if pe.UncompressedSize64 > uint64(limit) {
		return nil, cerr(ErrLimit, "", "data.pkl of %d bytes exceeds the limit %d", pe.UncompressedSize64, limit)
	}
	pkl, err := readEntry(pe, limit)
	if errors.Is(err, errTooLarge) {
		return nil, cerr(ErrLimit, "", "data.pkl inflates beyond %d bytes", limit)
	}
	if err != nil {
		return nil, cerr(ErrCorrupt, "", "data.pkl: %v", err)
	}
	top, err := Unpickle(pkl, opts.AllowUnknownGlobals)
	if err != nil {
		return nil, &formats.FormatError{File: name, Offset: -1, Msg: err.Error(), Err: kindOf(err)}
	}
	f = &File{Name: name, SourceKeys: map[string]string{}, refs: map[string]*tensorRef{}}
	topDict, ok := asDict(top)
	if !ok {
		return nil, cerr(ErrNoStateDict, "", "top-level object is %T, not a dict", top)
	}
	for _, kv := range topDict {
		if k, ok := kv.key.(string); ok {
			f.TopKeys = append(f.TopKeys, k)
		}
	}
	var state []kv
	for _, key := range []string{"model", "state_dict"} {
		if v, ok := lookup(topDict, key); ok {
			d, ok := asDict(v)
			if !ok {
				return nil, cerr(ErrNoStateDict, "", "%q is %T, not a dict", key, v)
			}
			state, f.StateKey = d, key
			break
		}
	}
	if f.StateKey == "" {
		for _, e := range topDict {
			if _, ok := e.val.(*tensorRef); !ok {
				return nil, cerr(ErrNoStateDict, "", "no \"model\" or \"state_dict\" entry, and the top level is not a state dict (key %s holds %T)", keyString(e.key), e.val)
			}
		}
		state = topDict
	}
	if v, ok := lookup(topDict, "hparams"); ok {
		if d, ok := asDict(v); ok {
			f.Hparams = map[string]any{}
			for _, e := range d {
				if k, ok := e.key.(string); ok {
					f.Hparams[k] = (&plainer{left: maxPlainNodes}).plain(e.val, 0)
				}
			}
		}
	}
	for _, k := range []string{"iter_num", "step_count"} {
		if v, ok := lookup(topDict, k); ok {
			if n, ok := toInt64(v); ok {
				if k == "iter_num" {
					f.IterNum = &n
				} else {
					f.StepCount = &n
				}
			}
		}
	}
	for _, e := range state {
		key, ok := e.key.(string)
		if !ok {
			return nil, cerr(ErrCorrupt, "", "state dict key %s is %T, not a string", keyString(e.key), e.key)
		}
		if strings.HasSuffix(key, "._extra_state") || key == "_extra_state" {
			f.Skipped = append(f.Skipped, key)
			continue
		}
		norm := normalizeKey(key)
		if prev, dup := f.SourceKeys[norm]; dup {
			return nil, cerr(ErrCorrupt, key, "keys %q and %q both normalise to %q", prev, key, norm)
		}
		tr, ok := e.val.(*tensorRef)
		if !ok {
			if p, ok := e.val.(*placeholder); ok {
				return nil, cerr(ErrForbiddenGlobal, key, "state dict entry is built from the unknown global %s", p.name)
			}
			return nil, cerr(ErrCorrupt, key, "state dict entry is %T, not a tensor", e.val)
		}
		t, err := makeTensor(name, norm, key, tr, entries, r, size, mem, opts)
		if err != nil {
			return nil, err
		}
		f.SourceKeys[norm] = key
		f.refs[norm] = tr
		f.Tensors = append(f.Tensors, t)
	}
	return f, nil
}

func normalizeKey(k string) string {
	for changed := true; changed; {
		changed = false
		for _, p := range wrapperPrefixes {
			if strings.HasPrefix(k, p) {
				k, changed = k[len(p):], true
			}
		}
	}
	return k
}

func kindOf(err error) error {
	for _, k := range []error{ErrForbiddenGlobal, ErrLimit, ErrPickle} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrPickle
}

// errTooLarge reports a record that reads beyond its limit.
var errTooLarge = errors.New("record larger than its limit")

// maxCompressedPickle caps a compressed data.pkl whatever its ratio.
const maxCompressedPickle = 256 << 20

func readEntry(zf *zip.File, limit int64) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

func makeTensor(file, name, key string, tr *tensorRef, entries map[string]*zip.File, r io.ReaderAt, size int64, mem []byte, opts Options) (formats.Tensor, error) {
	cerr := func(kind error, format string, args ...any) error {
		return formats.Errorf(kind, file, key, -1, format, args...)
	}
	if tr.dt == formats.Invalid || tr.dt == formats.C64 {
		return formats.Tensor{}, cerr(ErrUnsupportedDtype, "storage type %s is not supported for model tensors", tr.dtName)
	}
	es := int64(tr.dt.Size())
	if es == 0 {
		return formats.Tensor{}, cerr(ErrUnsupportedDtype, "dtype %v has no whole-byte element size", tr.dt)
	}
	st := tr.storage
	zf, ok := entries["data/"+st.key]
	if !ok {
		return formats.Tensor{}, cerr(ErrCorrupt, "storage record data/%s is missing from the zip", st.key)
	}
	var storageBytes int64
	if st.st.untyped {
		storageBytes = st.numel
	} else {
		sb, err := formats.ByteSize(st.st.dt, st.numel)
		if err != nil || st.numel < 0 {
			return formats.Tensor{}, cerr(ErrCorrupt, "storage data/%s: %d elements of %s", st.key, st.numel, st.st.name)
		}
		storageBytes = sb
	}
	if zf.Method != zip.Store {
		return formats.Tensor{}, cerr(ErrCorrupt, "storage record data/%s is compressed (method %d); torch.save stores records uncompressed", st.key, zf.Method)
	}
	if zf.CompressedSize64 != zf.UncompressedSize64 || zf.UncompressedSize64 != uint64(storageBytes) {
		return formats.Tensor{}, cerr(ErrCorrupt, "storage record data/%s holds %d bytes, the storage needs %d", st.key, zf.UncompressedSize64, storageBytes)
	}
	dataOff, err := zf.DataOffset()
	if err != nil {
		return formats.Tensor{}, cerr(ErrCorrupt, "storage record data/%s: %v", st.key, err)
	}
	if dataOff < 0 || dataOff > size || storageBytes > size-dataOff {
		return formats.Tensor{}, cerr(ErrCorrupt, "storage record data/%s at offset %d (+%d bytes) lies outside the %d-byte file", st.key, dataOff, storageBytes, size)
	}
	storageElems := storageBytes / es
	// Validate the view: sizes and strides ≥ 0, and the last element inside
	// the storage, all with overflow checks.
	if tr.offset < 0 {
		return formats.Tensor{}, cerr(ErrCorrupt, "negative storage offset %d", tr.offset)
	}
	n, err := formats.NumElements(tr.shape)
	if err != nil {
		return formats.Tensor{}, cerr(ErrCorrupt, "%v", err)
	}
	last := tr.offset
	for i, d := range tr.shape {
		s := tr.stride[i]
		if s < 0 {
			return formats.Tensor{}, cerr(ErrCorrupt, "negative stride %d", s)
		}
		if d == 0 {
			last = -1
			break
		}
		if s != 0 && d-1 > (math.MaxInt64-last)/s {
			return formats.Tensor{}, cerr(ErrCorrupt, "view size %v stride %v overflows", tr.shape, tr.stride)
		}
		last += (d - 1) * s
	}
	if n > 0 && last >= storageElems {
		return formats.Tensor{}, cerr(ErrCorrupt, "view (offset %d, size %v, stride %v) reaches element %d of a storage of %d elements",
			tr.offset, tr.shape, tr.stride, last, storageElems)
	}
	if n > last-tr.offset+1 {
		// More elements than the storage span holds: a broadcast (stride 0) or
		// overlapping view. Parameters never are; an 8 GiB view of a 1 MB
		// storage would turn a small file into unbounded work.
		return formats.Tensor{}, cerr(ErrCorrupt, "view of %d elements (size %v, stride %v) over %d elements of storage: a broadcast or overlapping view, not a parameter",
			n, tr.shape, tr.stride, last-tr.offset+1)
	}
	if opts.VerifyCRC {
		if err := checkCRC(zf); err != nil {
			return formats.Tensor{}, cerr(ErrCorrupt, "storage record data/%s: %v", st.key, err)
		}
	}
	shape := append([]int64{}, tr.shape...)
	begin := dataOff + tr.offset*es
	if contiguous(tr.shape, tr.stride) {
		if mem != nil {
			return formats.NewTensorBytes(name, tr.dt, shape, file, mem[begin:begin+n*es]), nil
		}
		return formats.NewTensor(name, tr.dt, shape, file, io.NewSectionReader(r, begin, n*es)), nil
	}
	return formats.NewTensor(name, tr.dt, shape, file, &strided{r: r, base: begin, es: es, shape: shape, stride: tr.stride,
		span: (last - tr.offset + 1) * es}), nil
}

func checkCRC(zf *zip.File) error {
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc) // archive/zip checks the CRC-32 at EOF
	return err
}

// contiguous reports whether stride is the row-major stride of shape
// (dimensions of size 1 may have any stride).
func contiguous(shape, stride []int64) bool {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// strided reads a non-contiguous view (a transposed or sliced parameter).
// When the storage span it covers is at most maxStridedSpan bytes, the span
// is read once and the elements gathered from memory (reading one element
// per pread took 49 s for a 64 MB transposed tensor); a larger span is read
// element by element, slowly but in bounded memory. Open refuses broadcast
// and overlapping views, so the work is bounded by the storage's size.
type strided struct {
	r      io.ReaderAt
	base   int64 // file offset of the view's first element
	es     int64
	shape  []int64
	stride []int64
	span   int64 // bytes from the first to the last element of the view

	once sync.Once
	data []byte
	err  error
}

// maxStridedSpan bounds the memory a strided view may hold while it is read.
const maxStridedSpan = 1 << 30

func (s *strided) load() {
	if s.span > maxStridedSpan {
		return
	}
	s.data = make([]byte, s.span)
	if _, err := s.r.ReadAt(s.data, s.base); err != nil && err != io.EOF {
		s.err = err
	}
}

func (s *strided) ReadAt(p []byte, off int64) (int, error) {
	n, _ := formats.NumElements(s.shape)
	size := n * s.es
	if off >= size {
		return 0, io.EOF
	}
	s.once.Do(s.load)
	if s.err != nil {
		return 0, s.err
	}
	end := min(size, off+int64(len(p)))
	idx := make([]int64, len(s.shape))
	var scratch []byte // one element, for spans read element by element
	if s.data == nil {
		scratch = make([]byte, s.es)
	}
	written := 0
	for e := off / s.es; e*s.es < end; e++ {
		rem := e
		var src int64
		for i := len(s.shape) - 1; i >= 0; i-- {
			idx[i] = rem % s.shape[i]
			rem /= s.shape[i]
			src += idx[i] * s.stride[i]
		}
		var elem []byte
		if s.data != nil {
			elem = s.data[src*s.es : (src+1)*s.es]
		} else {
			elem = scratch
			if _, err := s.r.ReadAt(elem, s.base+src*s.es); err != nil && err != io.EOF {
				return written, err
			}
		}
		lo := max(off, e*s.es) - e*s.es
		hi := min(end, (e+1)*s.es) - e*s.es
		written += copy(p[written:], elem[lo:hi])
	}
	if written < len(p) {
		return written, io.EOF
	}
	return written, nil
}

type kv struct{ key, val any }

// asDict returns the entries of a dict or OrderedDict in order.
func asDict(v any) ([]kv, bool) {
	switch d := v.(type) {
	case *types.Dict:
		out := make([]kv, 0, len(*d))
		for _, e := range *d {
			out = append(out, kv{e.Key, e.Value})
		}
		return out, true
	case *types.OrderedDict:
		out := make([]kv, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			out = append(out, kv{e.Key, e.Value})
		}
		return out, true
	}
	return nil, false
}

func lookup(d []kv, key string) (any, bool) {
	for _, e := range d {
		if k, ok := e.key.(string); ok && k == key {
			return e.val, true
		}
	}
	return nil, false
}

// maxPlainNodes bounds the values plain visits for one hparams entry: real
// ones are numbers, strings and short lists; a list that contains itself
// eight times would otherwise take 8^16 steps within the depth limit. The
// entries themselves are bounded by the pickle's size.
const maxPlainNodes = 10_000

// A plainer converts pickled values to plain Go values for hparams, within
// a total node budget and a depth limit: shared and cyclic references end
// as nil, never as an endless walk.
type plainer struct{ left int }

func (p *plainer) plain(v any, depth int) any {
	if depth > 16 || p.left <= 0 {
		return nil
	}
	p.left--
	switch x := v.(type) {
	case nil, bool, string:
		return x
	case float64:
		// JSON (manifests, --json) has no NaN or infinities: Python's float("inf")
		// in a training script's locals is kept as the string Python prints.
		switch {
		case math.IsNaN(x):
			return "nan"
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		}
		return x
	case int, int64:
		n, _ := toInt64(x)
		return n
	case []byte:
		return string(x)
	case *types.List:
		out := make([]any, 0, min(len(*x), p.left))
		for _, e := range *x {
			out = append(out, p.plain(e, depth+1))
		}
		return out
	case *types.Tuple:
		out := make([]any, 0, min(len(*x), p.left))
		for _, e := range *x {
			out = append(out, p.plain(e, depth+1))
		}
		return out
	}
	if n, ok := toInt64(v); ok {
		return n
	}
	if d, ok := asDict(v); ok {
		out := map[string]any{}
		for _, e := range d {
			out[keyString(e.key)] = p.plain(e.val, depth+1)
		}
		return out
	}
	return fmt.Sprintf("<%T>", v)
}

// keyString names a dict key without formatting its contents: a key that
// is a list containing itself would make fmt recurse until the stack
// overflows.
func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case bool, float64:
		return fmt.Sprint(x)
	}
	if n, ok := toInt64(k); ok {
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("<%T>", k)
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	out := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		out[i] = t.Name
	}
	sort.Strings(out)
	return out
}

// Unpickle runs a pickle (after the full pre-scan) and returns its value.
// Persistent ids must be torch storage tuples; GLOBALs resolve through the
// whitelist, or to placeholders when allowUnknown is set.
func Unpickle(data []byte, allowUnknown bool) (result any, err error) {
	allow := func(module, name string) bool { return allowUnknown || lookupGlobal(module, name) != nil }
	if err := scan(data, allow); err != nil {
		return nil, err
	}
	br := bytes.NewReader(data)
	u := pickle.NewUnpickler(br)
	offset := func() int { return len(data) - br.Len() }
	u.FindClass = func(module, name string) (any, error) {
		if g := lookupGlobal(module, name); g != nil {
			return g, nil
		}
		if allowUnknown {
			return &placeholder{module + "." + name}, nil
		}
		return nil, perr(ErrForbiddenGlobal, offset()-1, "forbidden global %q", module+"."+name)
	}
	u.PersistentLoad = func(pid any) (any, error) {
		t, ok := pid.(*types.Tuple)
		if !ok || t.Len() != 5 {
			return nil, perr(ErrPickle, offset()-1, "persistent id %T is not a 5-tuple ('storage', type, key, location, numel)", pid)
		}
		if s, _ := t.Get(0).(string); s != "storage" {
			return nil, perr(ErrPickle, offset()-1, "persistent id kind %v, want 'storage'", t.Get(0))
		}
		st, ok := t.Get(1).(storageType)
		if !ok {
			return nil, perr(ErrPickle, offset()-1, "persistent id storage type %T is not a torch storage class", t.Get(1))
		}
		key, ok := t.Get(2).(string)
		if !ok || key == "" || strings.ContainsAny(key, "/\\") {
			return nil, perr(ErrPickle, offset()-1, "persistent id key %v is not a plain record name", t.Get(2))
		}
		numel, ok := toInt64(t.Get(4))
		if !ok || numel < 0 {
			return nil, perr(ErrPickle, offset()-1, "persistent id numel %v is not a non-negative int", t.Get(4))
		}
		return &storageRef{key: key, st: st, numel: numel}, nil
	}
	defer func() {
		// gopickle indexes its stack without checks in a few opcodes (an odd
		// SETITEMS count, an unhashable OrderedDict key); the pre-scan cannot
		// rule those out without simulating the stack, so a panic inside the
		// machine is turned into an error here.
		if r := recover(); r != nil {
			result, err = nil, perr(ErrPickle, offset(), "malformed pickle: %v", r)
		}
	}()
	v, err := u.Load()
	if err != nil {
		var pe *pickleError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, perr(ErrPickle, offset(), "%v", err)
	}
	return v, nil
}
