package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/internal/mmap"
)

// MaxHeaderSize is the largest header accepted, as in the Rust reader
// (MAX_HEADER_SIZE, tensor.rs 10): a length read from the file never sizes
// an allocation beyond it.
const MaxHeaderSize = 100_000_000

// A File is one parsed safetensors file.
type File struct {
	Name       string            // path as given
	Metadata   map[string]string // __metadata__, or nil
	Tensors    []formats.Tensor  // in data-offset order
	HeaderSize int64             // the N of the 8-byte prefix
	DataOffset int64             // 8 + N

	byName map[string]int
	header []byte // the 8-byte length and the JSON header, as stored
	m      *mmap.Map
	f      *os.File
}

// RawHeader returns the file's 8-byte length prefix and JSON header as
// stored (the input of ContentDigest).
func (f *File) RawHeader() []byte { return f.header }

// OpenOptions control how files are opened.
type OpenOptions struct {
	// NoMmap reads tensors with pread instead of mapping the file. Streaming
	// jobs (import, quantize) use it so their resident memory stays bounded
	// by the chunks in flight instead of growing with the mapped pages they
	// touch; random-access readers (the forward pass) map.
	NoMmap bool
}

// OpenWith opens and parses the named file as opts say.
func OpenWith(name string, opts OpenOptions) (*File, error) {
	if !opts.NoMmap {
		return Open(name)
	}
	fh, size, err := mmap.OpenFile(name)
	if err != nil {
		return nil, err
	}
	f, err := parse(name, nil, fh, size)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.f = fh
	return f, nil
}

// Open maps and parses the named file. It closes the file if parsing fails.
func Open(name string) (*File, error) {
	m, err := mmap.Open(name)
	if err != nil {
		return nil, err
	}
	f, err := parse(name, m.Data, formats.BytesReaderAt(m.Data), int64(len(m.Data)))
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m = m
	return f, nil
}

// NewFile parses a safetensors file of the given size read through r.
// Tensors read their bytes from r.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	return parse(name, nil, r, size)
}

// Close releases the mapping, if any. Tensors of f must not be read after.
func (f *File) Close() error {
	var err error
	if f.m != nil {
		err = f.m.Close()
		f.m = nil
	}
	if f.f != nil {
		err = f.f.Close()
		f.f = nil
	}
	return err
}

// Tensor returns the tensor of the given name.
func (f *File) Tensor(name string) (formats.Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return formats.Tensor{}, false
	}
	return f.Tensors[i], true
}

func parse(name string, mem []byte, r io.ReaderAt, size int64) (*File, error) {
	ferr := func(tensor string, off int64, format string, args ...any) error {
		return formats.Errorf(formats.ErrFormat, name, tensor, off, format, args...)
	}
	if size < 8 {
		return nil, ferr("", 0, "file of %d bytes is shorter than the 8-byte header length", size)
	}
	var pre [8]byte
	if _, err := r.ReadAt(pre[:], 0); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > MaxHeaderSize {
		return nil, ferr("", 0, "header length %d exceeds the limit %d", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, ferr("", 0, "header length %d runs past the end of the %d-byte file", n, size)
	}
	// raw is the length prefix and the header, kept for RawHeader: read
	// once, or copied out of the mapping (which Close unmaps).
	raw := make([]byte, 8+n)
	copy(raw, pre[:])
	if mem != nil {
		copy(raw[8:], mem[8:8+n])
	} else if _, err := r.ReadAt(raw[8:], 8); err != nil && !(err == io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	hdr := raw[8:]
	h, err := ParseHeader(hdr)
	if err != nil {
		var he *HeaderError
		if errors.As(err, &he) {
			return nil, ferr(he.Tensor, 8+he.Offset, "%s", he.Msg)
		}
		return nil, ferr("", 8, "%v", err)
	}
	dataStart := 8 + int64(n)
	dataSize := size - dataStart
	if h.DataSize != dataSize {
		return nil, ferr("", dataStart, "tensors cover %d bytes of data but the file holds %d", h.DataSize, dataSize)
	}
	f := &File{Name: name, Metadata: h.Metadata, HeaderSize: int64(n), DataOffset: dataStart, byName: make(map[string]int, len(h.Entries)),
		header: raw, Tensors: make([]formats.Tensor, 0, len(h.Entries))}
	for i, e := range h.Entries {
		var t formats.Tensor
		if mem != nil {
			t = formats.NewTensorBytes(e.Name, e.DType, e.Shape, name, mem[dataStart+e.Begin:dataStart+e.End])
		} else {
			t = formats.NewTensor(e.Name, e.DType, e.Shape, name, io.NewSectionReader(r, dataStart+e.Begin, e.End-e.Begin))
		}
		f.Tensors = append(f.Tensors, t)
		f.byName[e.Name] = i
	}
	return f, nil
}

// A Header is a parsed and validated safetensors header.
type Header struct {
	Metadata map[string]string
	Entries  []Entry // sorted by Begin
	DataSize int64   // bytes indexed by the entries
}

// An Entry is one tensor of a header; offsets are relative to the data buffer.
type Entry struct {
	Name       string
	DType      formats.DType
	Shape      []int64
	Begin, End int64
}

// A HeaderError locates a problem inside a header (Offset is relative to the
// header's first byte).
type HeaderError struct {
	Tensor string
	Offset int64
	Msg    string
}

func (e *HeaderError) Error() string {
	if e.Tensor != "" {
		return fmt.Sprintf("safetensors: header offset %d: tensor %s: %s", e.Offset, e.Tensor, e.Msg)
	}
	return fmt.Sprintf("safetensors: header offset %d: %s", e.Offset, e.Msg)
}

// ParseHeader parses and validates the JSON header hdr (without the 8-byte
// length prefix) by the rules of the format: a JSON object starting with
// '{', optionally right-padded with spaces; no duplicate names; tensor
// entries with exactly dtype, shape and data_offsets; __metadata__ of string
// values; offsets that tile [0, DataSize) without holes or overlaps and
// match each tensor's byte size.
func ParseHeader(hdr []byte) (*Header, error) { return parseHeader(hdr, true) }

// parseHeader is ParseHeader; scan false sends valid JSON through the
// token decoder too (the baseline of the tests and benchmarks).
func parseHeader(hdr []byte, scan bool) (*Header, error) {
	herr := func(tensor string, off int64, format string, args ...any) error {
		return &HeaderError{Tensor: tensor, Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, herr("", 0, "header does not start with '{'")
	}
	if !utf8.Valid(hdr) {
		return nil, herr("", 0, "header is not valid UTF-8")
	}
	if off := loneSurrogate(hdr); off >= 0 {
		// encoding/json would turn it into U+FFFD; the reference (serde_json) rejects it.
		return nil, herr("", int64(off), "a \\u escape encodes a lone UTF-16 surrogate")
	}
	// One entry per "data_offsets" key, give or take a name that holds
	// those bytes: at most one per 16 bytes of header.
	h := &Header{Entries: make([]Entry, 0, bytes.Count(hdr, []byte(`"data_offsets"`)))}
	seen := make(map[string]bool, cap(h.Entries))
	member := func(key string, off int64, raw []byte, voff int64) error {
		if seen[key] {
			return herr(key, off, "duplicate name in header")
		}
		seen[key] = true
		if key == "__metadata__" {
			md, err := parseMetadata(raw)
			if err != nil {
				return herr("", voff, "__metadata__: %v", err)
			}
			h.Metadata = md
			return nil
		}
		e, err := parseEntry(key, raw)
		if err != nil {
			return herr(key, voff, "%v", err)
		}
		h.Entries = append(h.Entries, e)
		return nil
	}
	// Valid JSON (almost every header) is walked in place, without
	// encoding/json's token decoder: a 94 MB header of 790,000 entries
	// took 9 s that way. Anything else goes through the decoder, which
	// says where the JSON breaks.
	walk := decodeMembers
	if scan && json.Valid(bytes.TrimRight(hdr, " ")) {
		walk = scanMembers
	}
	end, err := walk(hdr, member)
	if err != nil {
		return nil, err
	}
	for i := end; i < int64(len(hdr)); i++ {
		if hdr[i] != ' ' {
			return nil, herr("", i, "unexpected byte %q after the header object (only space padding is allowed)", hdr[i])
		}
	}
	sort.SliceStable(h.Entries, func(i, j int) bool {
		if h.Entries[i].Begin != h.Entries[j].Begin {
			return h.Entries[i].Begin < h.Entries[j].Begin
		}
		return h.Entries[i].End < h.Entries[j].End
	})
	var next int64
	for _, e := range h.Entries {
		if e.Begin != next {
			if e.Begin < next {
				return nil, herr(e.Name, 0, "data_offsets [%d, %d) overlap the previous tensor, which ends at %d", e.Begin, e.End, next)
			}
			return nil, herr(e.Name, 0, "data_offsets begin %d leaves a hole after offset %d", e.Begin, next)
		}
		next = e.End
	}
	h.DataSize = next
	return h, nil
}

// decodeMembers calls member for each member of the JSON object that hdr
// starts with, through encoding/json's token decoder, and returns the
// offset just past the object.
func decodeMembers(hdr []byte, member func(key string, off int64, raw []byte, voff int64) error) (int64, error) {
	herr := func(off int64, format string, args ...any) error {
		return &HeaderError{Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return 0, herr(0, "invalid JSON: %v", err)
	}
	for dec.More() {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return 0, herr(off, "invalid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return 0, herr(off, "invalid JSON object key")
		}
		var raw json.RawMessage
		voff := dec.InputOffset()
		if err := dec.Decode(&raw); err != nil {
			return 0, herr(voff, "invalid JSON: %v", err)
		}
		if err := member(key, off, raw, voff); err != nil {
			return 0, err
		}
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != nil { // the closing '}'
		return 0, herr(end, "invalid JSON: %v", err)
	}
	return dec.InputOffset(), nil
}

// scanMembers is decodeMembers for a header that json.Valid accepted and
// that starts with '{': it finds each member's extent by scanning bytes,
// so it need not check what json.Valid already did.
func scanMembers(hdr []byte, member func(key string, off int64, raw []byte, voff int64) error) (int64, error) {
	i := skipSpace(hdr, 1)
	if hdr[i] == '}' {
		return int64(i + 1), nil
	}
	for {
		off := i
		j := skipString(hdr, i)
		var key string
		if bytes.IndexByte(hdr[i:j], '\\') < 0 {
			key = string(hdr[i+1 : j-1])
		} else if err := json.Unmarshal(hdr[i:j], &key); err != nil {
			return 0, &HeaderError{Offset: int64(i), Msg: fmt.Sprintf("invalid JSON: %v", err)}
		}
		i = skipSpace(hdr, skipSpace(hdr, j)+1) // past ':'
		j = skipValue(hdr, i)
		if err := member(key, int64(off), hdr[i:j], int64(i)); err != nil {
			return 0, err
		}
		i = skipSpace(hdr, j)
		if hdr[i] == '}' {
			return int64(i + 1), nil
		}
		i = skipSpace(hdr, i+1) // past ','
	}
}

// jsonString decodes the JSON string r (valid JSON) into s.
func jsonString(r []byte, s *string) bool {
	if len(r) >= 2 && r[0] == '"' && bytes.IndexByte(r, '\\') < 0 {
		*s = string(r[1 : len(r)-1])
		return true
	}
	return json.Unmarshal(r, s) == nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset just past the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue returns the offset just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(b) && strings.IndexByte(",}] \t\n\r", b[i]) < 0 {
		i++
	}
	return i
}

func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	var md map[string]any
	if err := json.Unmarshal(raw, &md); err != nil || md == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("value of %q is not a string", k)
		}
		out[k] = s
	}
	return out, nil
}

func parseEntry(name string, raw json.RawMessage) (Entry, error) {
	// raw is valid JSON (see parseUints): an object's members can be
	// scanned in place; a repeated key keeps its last value, as
	// encoding/json would.
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Entry{}, fmt.Errorf("entry is not a JSON object")
	}
	fields := make(map[string]json.RawMessage, 3)
	scanMembers(raw, func(key string, _ int64, v []byte, _ int64) error {
		fields[key] = v
		return nil
	})
	for k := range fields {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			return Entry{}, fmt.Errorf("unknown key %q (want dtype, shape, data_offsets)", k)
		}
	}
	e := Entry{Name: name}
	var dts string
	if r, ok := fields["dtype"]; !ok || !jsonString(r, &dts) {
		return Entry{}, fmt.Errorf("missing or non-string dtype")
	}
	dt, err := formats.ParseDType(dts)
	if err != nil {
		return Entry{}, fmt.Errorf("unknown dtype %q", dts)
	}
	e.DType = dt
	r, ok := fields["shape"]
	if !ok {
		return Entry{}, fmt.Errorf("missing shape")
	}
	if e.Shape, err = parseUints(r, -1); err != nil {
		return Entry{}, fmt.Errorf("shape: %v", err)
	}
	if e.Shape == nil {
		e.Shape = []int64{}
	}
	r, ok = fields["data_offsets"]
	if !ok {
		return Entry{}, fmt.Errorf("missing data_offsets")
	}
	offs, err := parseUints(r, 2)
	if err != nil {
		return Entry{}, fmt.Errorf("data_offsets: %v", err)
	}
	e.Begin, e.End = offs[0], offs[1]
	if e.End < e.Begin {
		return Entry{}, fmt.Errorf("data_offsets end %d < begin %d", e.End, e.Begin)
	}
	n, err := formats.NumElements(e.Shape)
	if err != nil {
		return Entry{}, err
	}
	size, err := formats.ByteSize(dt, n)
	if err != nil {
		return Entry{}, err
	}
	if e.End-e.Begin != size {
		return Entry{}, fmt.Errorf("data_offsets [%d, %d) hold %d bytes, but %v %s needs %d", e.Begin, e.End, e.End-e.Begin, dt, formats.ShapeString(e.Shape), size)
	}
	return e, nil
}

// parseUints decodes a JSON array of non-negative integers that fit int64;
// want >= 0 requires that many elements.
func parseUints(raw json.RawMessage, want int) ([]int64, error) {
	// raw is valid JSON (json.Valid or the decoder accepted it): an array
	// whose elements all parse as integers is an array of JSON integers.
	b := bytes.TrimSpace(raw)
	if string(b) == "null" {
		return nil, fmt.Errorf("null instead of an array")
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, fmt.Errorf("not an array of integers")
	}
	b = bytes.TrimSpace(b[1 : len(b)-1])
	n := 0
	if len(b) > 0 {
		n = bytes.Count(b, []byte(",")) + 1
	}
	if want >= 0 && n != want {
		return nil, fmt.Errorf("%d values, want %d", n, want)
	}
	out := make([]int64, n)
	for i := range out {
		s := b
		if k := bytes.IndexByte(b, ','); k >= 0 {
			s, b = b[:k], b[k+1:]
		}
		s = bytes.TrimSpace(s)
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || v < 0 {
			if len(s) > 0 && (s[0] == '"' || s[0] == '[' || s[0] == '{') {
				return nil, fmt.Errorf("not an array of integers")
			}
			return nil, fmt.Errorf("%s is not a non-negative integer", s)
		}
		out[i] = v
	}
	return out, nil
}

// loneSurrogate returns the offset of a \uD800–\uDFFF escape in a JSON
// text that is not a high surrogate followed by a low one, or −1.
func loneSurrogate(b []byte) int {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escaped character, possibly a backslash
			continue
		}
		r, ok := hex4(i)
		if !ok {
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if lo, ok := hex4(i + 6); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 11
				continue
			}
			return i
		case r >= 0xDC00 && r <= 0xDFFF:
			return i
		}
		i += 5
	}
	return -1
}
