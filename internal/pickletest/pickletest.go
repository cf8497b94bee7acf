// Package pickletest builds the pickles and zips that torch.save writes,
// opcode by opcode, so tests can make checkpoints no honest writer would:
// cycles, bombs, lying sizes. Opcodes follow CPython's Lib/pickle.py; the
// tensor and storage records follow torch/serialization.py (_save) and
// torch/_utils.py (_rebuild_tensor_v2).
package pickletest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
)

// Pickle is a protocol-2 pickle under construction.
type Pickle struct{ bytes.Buffer }

// New starts a pickle with the PROTO 2 header.
func New() *Pickle { p := &Pickle{}; p.Write([]byte{0x80, 2}); return p }

// Op appends raw opcodes and arguments.
func (p *Pickle) Op(b ...byte) *Pickle { p.Write(b); return p }

// Global pushes module.name (GLOBAL).
func (p *Pickle) Global(module, name string) *Pickle {
	p.WriteByte('c')
	p.WriteString(module + "\n" + name + "\n")
	return p
}

// Str pushes a string (BINUNICODE).
func (p *Pickle) Str(s string) *Pickle {
	p.WriteByte('X')
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

// Int pushes a 32-bit integer (BININT).
func (p *Pickle) Int(n int) *Pickle {
	p.WriteByte('J')
	binary.Write(p, binary.LittleEndian, int32(n))
	return p
}

// Float pushes a float64 (BINFLOAT, big-endian).
func (p *Pickle) Float(f float64) *Pickle {
	p.WriteByte('G')
	binary.Write(p, binary.BigEndian, math.Float64bits(f))
	return p
}

// Tuple pushes a tuple of the items (MARK ... TUPLE).
func (p *Pickle) Tuple(items ...func(*Pickle)) *Pickle {
	p.Op('(')
	for _, it := range items {
		it(p)
	}
	return p.Op('t')
}

// Storage pushes a persistent id ('storage', torch.<typ>, key, 'cpu', numel).
func (p *Pickle) Storage(typ, key string, numel int) *Pickle {
	p.Tuple(func(p *Pickle) { p.Str("storage") }, func(p *Pickle) { p.Global("torch", typ) },
		func(p *Pickle) { p.Str(key) }, func(p *Pickle) { p.Str("cpu") }, func(p *Pickle) { p.Int(numel) })
	return p.Op('Q')
}

// Tensor pushes _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
func (p *Pickle) Tensor(typ, key string, numel, offset int, size, stride []int) *Pickle {
	p.Global("torch._utils", "_rebuild_tensor_v2")
	ints := func(v []int) func(*Pickle) {
		return func(p *Pickle) {
			p.Op('(')
			for _, x := range v {
				p.Int(x)
			}
			p.Op('t')
		}
	}
	p.Tuple(func(p *Pickle) { p.Storage(typ, key, numel) }, func(p *Pickle) { p.Int(offset) }, ints(size), ints(stride),
		func(p *Pickle) { p.Op(0x89) }, func(p *Pickle) { p.Global("collections", "OrderedDict").Op(')', 'R') })
	return p.Op('R')
}

// Stop ends the pickle (STOP) and returns its bytes.
func (p *Pickle) Stop() []byte { p.Op('.'); return p.Bytes() }

// Zip writes a torch.save-style zip: records under prefix/, in order,
// stored, or deflated when deflate is set.
func Zip(prefix string, records map[string][]byte, order []string, deflate bool) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	method := zip.Store
	if deflate {
		method = zip.Deflate
	}
	for _, name := range order {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + "/" + name, Method: method})
		if err != nil {
			panic(err) // only for names a test chose
		}
		w.Write(records[name])
	}
	zw.Close()
	return buf.Bytes()
}

// F32 returns the little-endian bytes of v.
func F32(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}
