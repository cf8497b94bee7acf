package torchpth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// pk builds protocol-2 pickles opcode by opcode, as torch.save writes them
// (torch/serialization.py _save; CPython Lib/pickle.py opcodes).
type pk struct{ bytes.Buffer }

func newPk() *pk { p := &pk{}; p.Write([]byte{0x80, 2}); return p }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }
func (p *pk) global(module, name string) *pk {
	p.WriteByte('c')
	p.WriteString(module + "\n" + name + "\n")
	return p
}
func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}
func (p *pk) int(n int) *pk {
	p.WriteByte('J')
	binary.Write(p, binary.LittleEndian, int32(n))
	return p
}
func (p *pk) float(f float64) *pk {
	p.WriteByte('G')
	binary.Write(p, binary.BigEndian, math.Float64bits(f))
	return p
}
func (p *pk) tuple(items ...func(*pk)) *pk {
	p.op('(')
	for _, it := range items {
		it(p)
	}
	return p.op('t')
}

// storage pushes a persistent id ('storage', torch.<typ>, key, 'cpu', numel).
func (p *pk) storage(typ, key string, numel int) *pk {
	p.tuple(func(p *pk) { p.str("storage") }, func(p *pk) { p.global("torch", typ) },
		func(p *pk) { p.str(key) }, func(p *pk) { p.str("cpu") }, func(p *pk) { p.int(numel) })
	return p.op('Q')
}

// tensor pushes _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
func (p *pk) tensor(typ, key string, numel, offset int, size, stride []int) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2")
	ints := func(v []int) func(*pk) {
		return func(p *pk) {
			p.op('(')
			for _, x := range v {
				p.int(x)
			}
			p.op('t')
		}
	}
	p.tuple(func(p *pk) { p.storage(typ, key, numel) }, func(p *pk) { p.int(offset) }, ints(size), ints(stride),
		func(p *pk) { p.op(0x89) }, func(p *pk) { p.global("collections", "OrderedDict").op(')', 'R') })
	return p.op('R')
}
func (p *pk) stop() []byte { p.op('.'); return p.Bytes() }

// torchZip writes a torch.save-style zip: STORED records under prefix/.
func torchZip(t testing.TB, prefix string, records map[string][]byte, order []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range order {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + "/" + name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(records[name])
	}
	zw.Close()
	return buf.Bytes()
}

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.pth")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
