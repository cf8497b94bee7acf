package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/internal/mmap"
)

// A File is a parsed GGUF file.
type File struct {
	Name       string
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset int64 // absolute offset of the data section

	kv     map[string]int
	byName map[string]int
	r      io.ReaderAt
	size   int64
	mem    []byte
	m      *mmap.Map
}

// Open maps and parses the named file; it closes it if parsing fails.
func Open(name string) (*File, error) {
	m, err := mmap.Open(name)
	if err != nil {
		return nil, err
	}
	f, err := NewFile(formats.BytesReaderAt(m.Data), int64(len(m.Data)), name)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m, f.mem = m, m.Data
	return f, nil
}

// Close releases the mapping.
func (f *File) Close() error {
	if f.m == nil {
		return nil
	}
	err := f.m.Close()
	f.m, f.mem = nil, nil
	return err
}

// Get returns the value of a metadata key.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.kv[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// Tensor returns the info of a tensor by name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Data returns the bytes of tensor t: the mapped memory when the file is
// mapped (do not modify it), else a fresh copy.
func (f *File) Data(t *TensorInfo) ([]byte, error) {
	size, err := t.Size()
	if err != nil {
		return nil, err
	}
	off := f.DataOffset + int64(t.Offset)
	if f.mem != nil {
		return f.mem[off : off+size], nil
	}
	b := make([]byte, size)
	if _, err := f.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("%s: tensor %s: %w", f.Name, t.Name, err)
	}
	return b, nil
}

type cursor struct {
	br   *bufio.Reader
	off  int64
	size int64
	name string
	err  error
}

func (c *cursor) fail(format string, args ...any) {
	if c.err == nil {
		c.err = formats.Errorf(formats.ErrFormat, c.name, "", c.off, format, args...)
	}
}

// unsupported records a valid file this reader does not handle.
func (c *cursor) unsupported(format string, args ...any) {
	if c.err == nil {
		c.err = formats.Errorf(formats.ErrUnsupported, c.name, "", c.off, format, args...)
	}
}

func (c *cursor) read(n int64) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || n > c.size-c.off {
		c.fail("field of %d bytes runs past the end of the %d-byte file", n, c.size)
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.br, b); err != nil {
		c.fail("read: %v", err)
		return nil
	}
	c.off += n
	return b
}

func (c *cursor) u32() uint32 {
	b := c.read(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (c *cursor) u64() uint64 {
	b := c.read(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (c *cursor) str() string {
	n := c.u64()
	if c.err != nil {
		return ""
	}
	if n > maxString {
		c.fail("string of %d bytes exceeds the limit %d", n, maxString)
		return ""
	}
	b := c.read(int64(n))
	if c.err == nil && !utf8.Valid(b) {
		c.fail("string is not valid UTF-8")
	}
	return string(b)
}

func (c *cursor) scalar(t ValueType) any {
	switch t {
	case TypeString:
		return c.str()
	case TypeArray:
		c.fail("nested array")
		return nil
	}
	if t >= numValueTypes {
		c.fail("unknown value type %d", t)
		return nil
	}
	b := c.read(int64(scalarSize[t]))
	if b == nil {
		return nil
	}
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeUint16:
		return binary.LittleEndian.Uint16(b)
	case TypeInt16:
		return int16(binary.LittleEndian.Uint16(b))
	case TypeUint32:
		return binary.LittleEndian.Uint32(b)
	case TypeInt32:
		return int32(binary.LittleEndian.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	case TypeBool:
		if b[0] > 1 {
			c.fail("bool value %d (want 0 or 1)", b[0])
		}
		return b[0] != 0
	case TypeUint64:
		return binary.LittleEndian.Uint64(b)
	case TypeInt64:
		return int64(binary.LittleEndian.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return nil
}

func (c *cursor) value(t ValueType) any {
	if t != TypeArray {
		return c.scalar(t)
	}
	et := ValueType(c.u32())
	n := c.u64()
	if c.err != nil {
		return nil
	}
	if et == TypeArray || et >= numValueTypes {
		c.fail("array of element type %d", et)
		return nil
	}
	// Each element needs at least its scalar size (8 for a string's length)
	// in the remaining bytes: a count never sizes an allocation beyond the file.
	min := int64(scalarSize[et])
	if et == TypeString {
		min = 8
	}
	if n > maxArray || int64(n) > (c.size-c.off)/min {
		c.fail("array of %d elements cannot fit in the remaining %d bytes", n, c.size-c.off)
		return nil
	}
	a := Array{Type: et, Values: make([]any, 0, n)}
	for i := uint64(0); i < n && c.err == nil; i++ {
		a.Values = append(a.Values, c.scalar(et))
	}
	return a
}

// NewFile parses a GGUF file of the given size read through r, enforcing
// every rule of ggml's loader (package comment).
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	c := &cursor{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16), size: size, name: name}
	if m := c.read(4); c.err == nil && string(m) != Magic {
		c.off = 0
		c.fail("magic %q, want %q", m, Magic)
	}
	f := &File{Name: name, r: r, size: size, kv: map[string]int{}, byName: map[string]int{}, Alignment: DefaultAlignment}
	f.Version = c.u32()
	if c.err == nil {
		switch {
		case f.Version == 0:
			c.off -= 4
			c.fail("version 0")
		case f.Version&0xffff == 0:
			c.off -= 4
			c.unsupported("version %#x reads as a big-endian file; only little-endian GGUF is supported", f.Version)
		case f.Version < 2 || f.Version > Version:
			c.off -= 4
			c.unsupported("GGUF version %d; this reader supports versions 2 and 3", f.Version)
		}
	}
	nt := c.u64()
	nkv := c.u64()
	// A tensor info needs at least 8+4+8+4+8 bytes, a KV at least 8+4+1.
	if c.err == nil && (nt > uint64(size)/32 || nkv > uint64(size)/13) {
		c.fail("%d tensors and %d metadata pairs cannot fit in %d bytes", nt, nkv, size)
	}
	for i := uint64(0); i < nkv && c.err == nil; i++ {
		koff := c.off
		k := c.str()
		t := ValueType(c.u32())
		v := c.value(t)
		if c.err != nil {
			break
		}
		if k == "" {
			c.off = koff
			c.fail("empty metadata key")
			break
		}
		if _, dup := f.kv[k]; dup {
			c.off = koff
			c.fail("duplicate metadata key %q", k)
			break
		}
		if k == "general.alignment" {
			a, ok := v.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				c.off = koff
				c.fail("general.alignment must be a non-zero power-of-two UINT32, got %v (%T)", v, v)
				break
			}
			f.Alignment = uint64(a)
		}
		f.kv[k] = len(f.KV)
		f.KV = append(f.KV, KV{Key: k, Value: v})
	}
	var expect uint64
	for i := uint64(0); i < nt && c.err == nil; i++ {
		toff := c.off
		ti := TensorInfo{Name: c.str()}
		nd := c.u32()
		if c.err != nil {
			break
		}
		failAs := func(kind error, format string, args ...any) {
			c.off = toff
			c.err = formats.Errorf(kind, name, ti.Name, toff, format, args...)
		}
		fail := func(format string, args ...any) { failAs(formats.ErrFormat, format, args...) }
		if len(ti.Name) > MaxNameLen {
			fail("tensor name of %d bytes exceeds %d", len(ti.Name), MaxNameLen)
			break
		}
		if _, dup := f.byName[ti.Name]; dup {
			fail("duplicate tensor name")
			break
		}
		if nd > MaxDims {
			fail("%d dimensions (at most %d)", nd, MaxDims)
			break
		}
		for d := uint32(0); d < nd; d++ {
			ti.Dims = append(ti.Dims, c.u64())
		}
		ti.Type = ggml.Type(c.u32())
		ti.Offset = c.u64()
		if c.err != nil {
			break
		}
		for _, d := range ti.Dims {
			if d > math.MaxInt64 {
				fail("dimension %d is negative as int64", d)
				break
			}
		}
		if c.err != nil {
			break
		}
		if !ti.Type.Known() {
			failAs(formats.ErrUnsupported, "ggml type %d is unknown to this reader or removed from ggml", uint32(ti.Type))
			break
		}
		sz, err := ti.Size()
		if err != nil {
			fail("%v", err)
			break
		}
		if ti.Offset != expect {
			fail("data offset %d, want %d (tensors must be contiguous in info order, each padded to %d)", ti.Offset, expect, f.Alignment)
			break
		}
		// Checked: no tensor, and no sum of tensors, may outgrow the file
		// (sizes near 2^62 would otherwise wrap the uint64 sum to 0).
		padded := align(uint64(sz), f.Alignment)
		if padded < uint64(sz) || padded > uint64(size) || expect > uint64(size)-padded {
			fail("%d bytes of data at data offset %d cannot fit in the %d-byte file", sz, expect, size)
			break
		}
		expect += padded
		f.byName[ti.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}
	if c.err != nil {
		return nil, c.err
	}
	f.DataOffset = int64(align(uint64(c.off), f.Alignment))
	if uint64(f.DataOffset) > uint64(size) || expect > uint64(size-f.DataOffset) {
		return nil, formats.Errorf(formats.ErrFormat, name, "", f.DataOffset, "tensor data needs %d bytes after offset %d, the file has %d", expect, f.DataOffset, size)
	}
	return f, nil
}
